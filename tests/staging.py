"""Random weights in the official file formats for every ``weights_manifest.json`` entry, plus a manifest for them.

Why: end-to-end and browser tests start the real app (``python app.py``) on machines that cannot reach the Hub.
:func:`stage_weights` writes, for each manifest entry, a file of random weights in the container, key names and
serialisation the real file has (FOMM's legacy-format training container with optimizer states, TPSMM's
``vox.pth.tar`` with its avd network, DeOldify's fastai state_dict with spectral/weight-norm keys, a Caffe
``.caffemodel``, MNIST parquet in the Hub dataset's schema, ...) under ``<root>/weights/<entry name>/<file>``, and
a manifest ``<root>/weights_manifest.json`` that points there with the files' sha256 and size, so the project's
integrity checks run as they do on real downloads. Where an architecture's loader takes a configuration, a small
one is staged so every pipeline call is quick on a 2-core CPU; fixed architectures (Zhang, AgeNet, the encoders of
DeOldify) are staged at real size. Random weights are shaped so outputs stay visible: BatchNorm statistics
calibrated on real photos, near-identity jacobians and spread-out keypoints for the talking heads, and an image
path through the talking-head generators so their frames show the warped photo.

Run the app on them by hand::

    python tests/staging.py /tmp/staged        # prints two `export ...` lines
    eval "$(python tests/staging.py /tmp/staged)" && python app.py
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import io
import json
import math
import os
import shlex
import sys
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
for _folder in (REPO_ROOT, TESTS_DIR):  # the CLI runs from anywhere; the tests' helpers live next to this file
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

from gen_models.core.hub import sha256_file  # noqa: E402
from gen_models.core.manifest import (  # noqa: E402
    DEFAULT_MANIFEST,
    MANIFEST_VERSION,
    WeightsEntry,
    load_manifest,
    parse_manifest,
)

# Staged files are reused only if made by this code: this file and the test helpers its recipes call.
RECIPE_SOURCES = ("staging.py", "test_fomm.py", "test_tpsmm.py", "test_deoldify.py", "test_zhang.py", "test_pggan.py",
                  "caffe_writer.py")
EXAMPLES = REPO_ROOT / "spaces"
FACE_PHOTO = EXAMPLES / "talking_heads" / "examples" / "astronaut.jpg"
GRAY_PHOTOS = [EXAMPLES / "colorize" / "examples" / name for name in ("cameraman.png", "chelsea_cat.jpg")]
OTHER_PHOTOS = [*GRAY_PHOTOS, EXAMPLES / "age" / "examples" / "coffee.jpg"]

# Small configurations, each accepted by its architecture's ``from_manifest`` (see gen_models/<arch>.py).
FOMM_TINY: dict[str, Any] = {  # vox-256's keypoint count and 1/4-scale motion, much narrower networks
    "common_params": {"num_kp": 10, "num_channels": 3, "estimate_jacobian": True},
    "kp_detector_params": {"temperature": 0.1, "block_expansion": 8, "max_features": 64, "num_blocks": 3,
                           "scale_factor": 0.25},
    "generator_params": {"block_expansion": 8, "max_features": 64, "num_down_blocks": 2, "num_bottleneck_blocks": 2,
                         "estimate_occlusion_map": True,
                         "dense_motion_params": {"block_expansion": 8, "max_features": 64, "num_blocks": 3,
                                                 "scale_factor": 0.25}},
}
TPSMM_TINY: dict[str, Any] = {  # 10 TPS × 5 points as vox-256; multi_mask needs num_down_blocks 3 at scale 1/4
    "common_params": {"num_tps": 10, "num_channels": 3, "multi_mask": True},
    "generator_params": {"block_expansion": 8, "max_features": 64, "num_down_blocks": 3},
    "dense_motion_params": {"block_expansion": 8, "max_features": 64, "num_blocks": 3, "scale_factor": 0.25},
    "avd_network_params": {"id_bottle_size": 128, "pose_bottle_size": 128},
}
PGGAN_TINY: dict[str, Any] = {"resolution": 256, "z_dim": 512, "fmaps_base": 2048, "fmaps_max": 64}
CYCLEGAN_TINY: dict[str, Any] = {"ngf": 8, "n_blocks": 2}
# resnet34 is the smallest encoder the loader builds; the U-Net kind stays the variant's own (deep / wide)
DEOLDIFY_TINY: dict[str, dict[str, Any]] = {
    "artistic": {"encoder": "resnet34", "unet": "deep", "nf_factor": 0.25},
    "stable": {"encoder": "resnet34", "unet": "wide", "nf_factor": 1},  # wide needs int(nf_factor) >= 1
    "video": {"encoder": "resnet34", "unet": "wide", "nf_factor": 1},
}
DCGAN_HIDDEN = 16
MNIST_REPO = "ylecun/mnist"


class StagingError(RuntimeError):
    """A manifest entry that cannot be staged (its architecture or dataset has no recipe here)."""


@dataclass(frozen=True)
class StagedWeights:
    """Where :func:`stage_weights` put things: the staged manifest and the ``<name>/<file>`` weights folder."""

    manifest: Path
    weights_dir: Path

    def env(self) -> dict[str, str]:
        """The environment that makes gen_models (and ``python app.py``) use the staged files."""
        return {"GEN_MODELS_MANIFEST": str(self.manifest), "GEN_MODELS_WEIGHTS_DIR": str(self.weights_dir)}


# ----------------------------------------------------------------------------------------------------- helpers


def _seed(name: str) -> int:
    """A stable per-entry seed, so two entries of one architecture get different weights."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def _save_torch(obj: Any, path: Path, *, legacy: bool = False) -> None:
    if legacy:
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    else:
        torch.save(obj, path)


def _photo(path: Path, size: int, gray: bool = False) -> np.ndarray | None:
    """An example photo as size×size uint8 RGB (a centred square), or None when the file is missing."""
    if not path.is_file():
        return None
    image = Image.open(path).convert("L" if gray else "RGB").convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return np.asarray(image.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR))


def _face_crops(size: int = 256) -> np.ndarray:
    """(N, size, size, 3) uint8 crops of the example face photo as the talking-head pipeline frames it (its face box,
    see gen_models.pipelines.animate.prepare_source), shifted and zoomed a little; noise if the photo is missing."""
    from gen_models.media.face import face_finder, square_box
    from gen_models.pipelines.animate import FACE_LIFT, FACE_MARGIN

    rgb = np.asarray(Image.open(FACE_PHOTO).convert("RGB")) if FACE_PHOTO.is_file() else None
    faces = face_finder().detect(rgb) if rgb is not None else []
    if not faces:
        return np.random.default_rng(0).integers(0, 256, (4, size, size, 3), dtype=np.uint8)
    face = max(faces, key=lambda f: f.width * f.height)
    x0, y0, x1, y1 = square_box(face.box, FACE_MARGIN, FACE_LIFT)
    side = x1 - x0
    image = Image.fromarray(rgb)
    crops = []
    for zoom, dx, dy in ((1.0, 0.0, 0.0), (1.0, 0.04, 0.0), (1.0, 0.0, 0.04), (1.06, -0.03, 0.02), (0.94, 0.02, -0.03)):
        cx, cy, half = (x0 + x1) / 2 + dx * side, (y0 + y1) / 2 + dy * side, zoom * side / 2
        crops.append(np.asarray(image.resize((size, size), Image.BILINEAR, box=(cx - half, cy - half, cx + half,
                                                                                    cy + half))))
    return np.stack(crops)


def _to_unit_batch(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0


def _adam_state(module: nn.Module, step: bool) -> dict:
    """A genuine Adam state_dict as torch 1.0 stored it (FOMM's files), computed on a copy of ``module``."""
    from test_fomm import adam_state

    return adam_state(copy.deepcopy(module), step=step, torch10=True)


# ------------------------------------------------------------------------------------------------ talking heads


def _pass_image_(conv: nn.Conv2d, norm: nn.Module | None = None, channels: int = 3) -> None:
    """Make output channels ``0..channels-1`` of ``conv`` (and its BatchNorm) copy input channels ``0..channels-1``.

    The rest stays random; an image riding in these channels through a talking-head generator makes its frames
    show the warped photo instead of a flat colour, as a trained generator would.
    """
    k_h, k_w = conv.kernel_size[0] // 2, conv.kernel_size[1] // 2
    conv.weight[:channels].zero_()
    for c in range(channels):
        conv.weight[c, c, k_h, k_w] = 1.0
    if conv.bias is not None:
        conv.bias[:channels].zero_()
    if isinstance(norm, nn.BatchNorm2d):
        norm.weight[:channels] = 1.0
        norm.bias[:channels] = 0.0
        norm.running_mean[:channels] = 0.0
        norm.running_var[:channels] = 1.0 - norm.eps


def _image_head_(conv: nn.Conv2d, seed: int, gain: float = 6.0, channels: int = 3) -> None:
    """``sigmoid(gain · (image - 0.5))`` plus a faint random texture from the other features."""
    gen = torch.Generator().manual_seed(seed)
    k_h, k_w = conv.kernel_size[0] // 2, conv.kernel_size[1] // 2
    conv.weight.copy_(0.05 * torch.randn(conv.weight.shape, generator=gen) / math.sqrt(conv.weight[0].numel()))
    for c in range(channels):
        conv.weight[c, c, k_h, k_w] += gain
    conv.bias.copy_(-gain / 2 + 0.05 * torch.randn(conv.bias.shape, generator=gen))


def _fomm_discriminator(adversarial: bool, num_kp: int, block_expansion: int = 8, max_features: int = 64,
                        num_blocks: int = 4) -> nn.Module:
    """first-order-model's ``MultiScaleDiscriminator(scales=[1])`` key pattern (``discs.1.down_blocks.i.conv``,
    ``.norm``, ``discs.1.conv``): spectral-norm convs for vox-256, plain convs seeing the keypoint heatmaps too
    (``use_kp``) for vox-adv-256."""
    disc = nn.Module()
    disc.down_blocks = nn.ModuleList()
    for i in range(num_blocks):
        c_in = (3 + num_kp * adversarial) if i == 0 else min(max_features, block_expansion * 2**i)
        block = nn.Module()
        block.conv = nn.Conv2d(c_in, min(max_features, block_expansion * 2 ** (i + 1)), kernel_size=4)
        if not adversarial:
            block.conv = nn.utils.spectral_norm(block.conv)
        if i:
            block.norm = nn.InstanceNorm2d(block.conv.out_channels, affine=True)
        disc.down_blocks.append(block)
    disc.conv = nn.Conv2d(disc.down_blocks[-1].conv.out_channels, 1, kernel_size=1)
    if not adversarial:
        disc.conv = nn.utils.spectral_norm(disc.conv)
    root = nn.Module()
    root.discs = nn.ModuleDict({"1": disc})
    return root


def _write_fomm(entry: WeightsEntry, config: dict, seed: int, path: Path) -> None:
    """vox-cpk / vox-adv-cpk: the training container of ``train.py`` in torch 1.0's legacy format."""
    from test_fomm import randomize_

    from gen_models.models.fomm import FOMM

    adversarial = "adv" in entry.basename
    model = FOMM(config)
    randomize_(model.kp_detector, seed)
    randomize_(model.generator, seed + 1)
    gen = model.generator
    with torch.no_grad():
        model.kp_detector.kp.weight.mul_(3.0)  # sharper heatmaps: keypoints spread over the face, not bunched
        _pass_image_(gen.first.conv, gen.first.norm)
        for block in (*gen.down_blocks, *gen.up_blocks):
            _pass_image_(block.conv, block.norm)
        for block in gen.bottleneck:
            block.conv2.weight[:3].zero_()
            block.conv2.bias[:3].zero_()
        _image_head_(gen.final, seed + 2)
        gen.dense_motion_network.occlusion.bias.fill_(3.0)  # mostly visible: the warped features reach the output
    discriminator = _fomm_discriminator(adversarial, config["common_params"]["num_kp"])
    checkpoint = {
        "generator": gen.state_dict(),
        "discriminator": discriminator.state_dict(),
        "kp_detector": model.kp_detector.state_dict(),
        "optimizer_generator": _adam_state(gen, step=True),
        "optimizer_discriminator": _adam_state(discriminator, step=adversarial),  # vox: generator_gan 0
        "optimizer_kp_detector": _adam_state(model.kp_detector, step=True),
        "epoch": 149 if adversarial else 99,
    }
    _save_torch(checkpoint, path, legacy=True)


def _scaled_linear_(linear: nn.Linear, inputs: torch.Tensor, centre: torch.Tensor, swing: float, seed: int) -> None:
    """Random ``linear`` whose outputs on ``inputs`` sit at ``centre`` and vary by about ``±swing`` across them.

    The scale is one number for all features (their spread across the calibration images), so inputs unlike the
    calibration images move the outputs more, but never by orders of magnitude.
    """
    gen = torch.Generator().manual_seed(seed)
    mean = inputs.mean(dim=0)
    spread = (inputs - mean).pow(2).mean().sqrt().clamp_min(1e-6)
    weight = swing * torch.randn(linear.weight.shape, generator=gen) / (spread * math.sqrt(inputs.shape[1]))
    linear.weight.copy_(weight)
    linear.bias.copy_(centre - weight @ mean)


def _calibration_images(size: int = 256) -> tuple[torch.Tensor, int]:
    """Face crops framed as the pipeline frames them, then the other example photos, in [0, 1]; and how many
    of them are faces. The talking heads' keypoint heads are tuned on these."""
    faces = _face_crops(size)
    others = [p for p in (_photo(path, size) for path in OTHER_PHOTOS) if p is not None]
    return _to_unit_batch(np.concatenate([faces, np.stack(others)]) if others else faces), len(faces)


def _calibrate_tpsmm_(model: nn.Module, seed: int) -> None:
    """Spread-out keypoints (5 distinct points per TPS) that move gently with the image, and an AVD network whose
    keypoints stay near those of a face, nudged by the driving pose.

    A random ResNet-18 saturates ``sigmoid(fc(·))`` (every keypoint on the border), so ``fc`` is rescaled on the
    calibration images around a fixed layout. A random AVD MLP returns keypoints bunched near 0 (degenerate
    splines: black frames), so its last layer is rescaled to centre on the example face's keypoints.
    """
    gen = torch.Generator().manual_seed(seed)
    layout = torch.rand(model.num_tps * 5, 2, generator=gen) * 1.3 - 0.65
    encoder = model.kp_detector.fg_encoder
    fc, encoder.fc = encoder.fc, nn.Identity()
    images, face_count = _calibration_images()
    features = encoder.eval()(images)
    encoder.fc = fc
    _scaled_linear_(fc, features, torch.logit((layout.flatten() + 1) / 2), 0.5, seed + 1)
    keypoints = model.kp_detector(images)["fg_kp"].flatten(1)
    faces = keypoints[:face_count]
    source, driving = faces.mean(dim=0) + 0.1 * torch.randn(2, 256, faces.shape[1], generator=gen)
    avd = model.avd_network.eval()
    hidden = avd.decoder[:-1](torch.cat([avd.pose_encoder(driving), avd.id_encoder(source)], dim=1))
    _scaled_linear_(avd.decoder[-1], hidden, faces.mean(dim=0), 0.04, seed + 2)


def _write_tpsmm(entry: WeightsEntry, config: dict, seed: int, path: Path) -> None:
    """vox.pth.tar: the five module state_dicts the released file holds (``bg_predictor`` at its real, fixed size)
    and the epoch, as ``Logger.save_cpk`` of ``train_avd.py`` writes them (without the optimizer)."""
    import torchvision
    from test_tpsmm import randomize

    from gen_models.models.tpsmm import TPSMM

    torch.manual_seed(seed)
    model = TPSMM(config)
    for offset, name in enumerate(("kp_detector", "dense_motion_network", "inpainting_network", "avd_network")):
        randomize(model.get_submodule(name), seed + offset)
    model.eval()
    with torch.no_grad():
        _calibrate_tpsmm_(model, seed)
        model.dense_motion_network.occlusion[-1].bias.fill_(3.0)  # the output is mostly the warped photo
    bg = torchvision.models.resnet18(weights=None)
    bg.conv1 = nn.Conv2d(6, 64, kernel_size=7, stride=2, padding=3, bias=False)
    bg.fc = nn.Linear(bg.fc.in_features, 6)
    checkpoint = {
        "inpainting_network": model.inpainting_network.state_dict(),
        "dense_motion_network": model.dense_motion_network.state_dict(),
        "kp_detector": model.kp_detector.state_dict(),
        "avd_network": model.avd_network.state_dict(),
        "bg_predictor": {f"bg_encoder.{k}": v for k, v in bg.state_dict().items()},
        "epoch": 199,
    }
    _save_torch(checkpoint, path)


# ------------------------------------------------------------------------------------------------ colorization


def _deoldify_config(entry: WeightsEntry) -> dict:
    variant = str(entry.config.get("variant", "artistic"))
    if variant not in DEOLDIFY_TINY:
        raise StagingError(f"entry '{entry.name}': no small DeOldify configuration for variant '{variant}'")
    return {**entry.config, "variant": variant, **DEOLDIFY_TINY[variant]}


def _gray_batch(size: int) -> torch.Tensor:
    """ImageNet-normalised gray photos (3 channels), what DeOldify sees; noise if the examples are missing."""
    from gen_models.pipelines.colorize import IMAGENET_MEAN, IMAGENET_STD

    photos = [p for p in (_photo(path, size, gray=True) for path in GRAY_PHOTOS) if p is not None]
    if not photos:
        return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    x = (np.stack(photos).astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(x.transpose(0, 3, 1, 2).copy())


def _write_deoldify(entry: WeightsEntry, config: dict, seed: int, path: Path) -> None:
    """``Colorize*_gen.pth``: the plain ``OrderedDict`` state_dict fastai v1 saves (``layers.<i>.*``), built as
    fastai builds ``DynamicUnetDeep``/``Wide`` with torch's hook-based spectral and weight norm (the 2019 keys
    ``weight_orig``/``weight_u``/``weight_v`` and ``weight_g``/``weight_v``); BatchNorm statistics are measured on
    gray photos so colours stay in range."""
    from test_deoldify import randomise, reference_unet
    from torchvision import models

    arch = {"resnet34": models.resnet34, "resnet101": models.resnet101}[config["encoder"]]
    torch.manual_seed(seed)
    with torch.device("meta"):  # every tensor is filled by randomise()
        net = reference_unet(arch, deep=config["unet"] == "deep", nf_factor=config["nf_factor"])
    net.to_empty(device="cpu")
    randomise(net, seed=seed, batch=_gray_batch(96))
    state = net.eval().state_dict()
    assert isinstance(state, OrderedDict)
    _save_torch(state, path)


def _write_zhang(entry: WeightsEntry, config: dict, seed: int, path: Path) -> None:
    """The official colorizer state_dict (real size: the architecture is fixed); the ECCV16 file has no BatchNorm
    counters, as files saved before torch 0.4.1 (the project's own tests assume the same)."""
    from test_zhang import random_state

    from gen_models.models.zhang import VARIANTS

    variant = str(config.get("variant") or ("siggraph17" if "siggraph" in entry.basename else "eccv16"))
    if variant not in VARIANTS:
        raise StagingError(f"entry '{entry.name}': unknown Zhang variant '{variant}'")
    _save_torch(random_state(variant, seed=seed, counters=variant != "eccv16"), path)


# ------------------------------------------------------------------------------------------ faces, labs, age


def _write_pggan(entry: WeightsEntry, config: dict, seed: int, path: Path) -> None:
    """huggan's ``pytorch_model.bin``: genforce's plain state_dict (``lod``, ``layer*``, ``output*``). The last toRGB
    head is centred and scaled on a batch of latents: random LeakyReLU features are mostly positive, which would
    otherwise tint every face one clipped colour."""
    from test_pggan import random_state

    from gen_models.core.latent import z_from_seeds
    from gen_models.models.pggan import PGGANGenerator

    state = random_state(seed, lod=0.0, **config)
    model = PGGANGenerator(**config)
    model.load_state_dict(state)
    images = model.eval()(z_from_seeds(range(16), model.z_dim))
    gain = 0.5 / images.std(dim=(0, 2, 3)).clamp_min(1e-6)
    last = f"output{model.num_levels - 1}"
    state[f"{last}.weight"] *= gain.view(-1, 1, 1, 1)
    state[f"{last}.bias"] = (state[f"{last}.bias"] - images.mean(dim=(0, 2, 3))) * gain
    _save_torch(state, path)


def _write_cyclegan(entry: WeightsEntry, config: dict, seed: int, path: Path) -> None:
    """``<direction>.pth`` as released: the generator's weights plus the InstanceNorm ``running_mean``,
    ``running_var`` and ``num_batches_tracked`` buffers the old PyTorch saved, in module order."""
    from gen_models.models.cyclegan import ResnetGenerator

    gen = torch.Generator().manual_seed(seed)
    model = ResnetGenerator(ngf=int(config["ngf"]), n_blocks=int(config["n_blocks"]))
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            state[f"{name}.weight"] = 0.05 * torch.randn(module.weight.shape, generator=gen)
            state[f"{name}.bias"] = 0.2 * torch.randn(module.bias.shape, generator=gen)
        elif isinstance(module, nn.InstanceNorm2d):
            state[f"{name}.running_mean"] = 0.1 * torch.randn(module.num_features, generator=gen)
            state[f"{name}.running_var"] = 0.5 + torch.rand(module.num_features, generator=gen)
            state[f"{name}.num_batches_tracked"] = torch.tensor(12345)
    _save_torch(state, path)


def _write_dcgan(entry: WeightsEntry, config: dict, seed: int, path: Path) -> None:
    """A DCGAN generator state_dict (``model.*``); the loader reads its sizes from the file."""
    from gen_models.models.dcgan import Generator

    torch.manual_seed(seed)
    model = Generator(int(config.get("latent_dim", 100)), DCGAN_HIDDEN, int(config.get("num_channels", 3)))
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 1.5)
            elif name.endswith("running_mean"):
                tensor.normal_(0.0, 0.1)
            elif name.endswith("num_batches_tracked"):
                tensor.fill_(1000)
            elif tensor.dim() == 4:
                tensor.normal_(0.0, 0.05)
    _save_torch(model.state_dict(), path)


def _write_agenet(entry: WeightsEntry, config: dict, seed: int, path: Path) -> None:
    """``age_net.caffemodel`` at real size in the released file's old Caffe layout (tests/caffe_writer.py); fc8 is
    scaled down so the 8 bucket probabilities stay spread out instead of one-hot."""
    from caffe_writer import agenet_caffemodel, random_agenet_weights

    if int(config.get("num_classes", 8)) != 8:
        raise StagingError(f"entry '{entry.name}': the Caffe writer knows AgeNet with 8 classes only")
    path.write_bytes(agenet_caffemodel(random_agenet_weights(seed % 2**32, fc8_gain=0.05), "v1"))


def _mnist_split(entry: WeightsEntry) -> str:
    split = str(entry.config.get("split") or ("test" if "test" in entry.basename else "train"))
    if split not in ("train", "test"):
        raise StagingError(f"entry '{entry.name}': MNIST split must be train or test, got '{split}'")
    return split


def _write_dataset(entry: WeightsEntry, config: dict, seed: int, path: Path) -> None:
    """MNIST parquet in the schema of the Hub's ``ylecun/mnist``: ``image`` (struct of PNG ``bytes`` and ``path``)
    and ``label`` (int64), with the ``datasets`` features in the schema metadata; the digits are scikit-learn's
    (upscaled to 28×28 as gen_models.train.digits does): 1,500 for train and 297 for test."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gen_models.train.digits import load_digits

    if entry.repo_id != MNIST_REPO or not entry.filename.endswith(".parquet"):
        raise StagingError(f"entry '{entry.name}': staging knows only the {MNIST_REPO} parquet files, not "
                           f"{entry.repo_id}/{entry.filename}")
    digits = load_digits(_mnist_split(entry), source="sklearn")
    pngs = []
    for image in digits.images:
        buffer = io.BytesIO()
        Image.fromarray(np.round(image * 255).astype(np.uint8), mode="L").save(buffer, format="PNG")
        pngs.append({"bytes": buffer.getvalue(), "path": None})
    features = {"image": {"_type": "Image"},
                "label": {"names": [str(d) for d in range(10)], "_type": "ClassLabel"}}
    schema = pa.schema([("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])), ("label", pa.int64())],
                       metadata={"huggingface": json.dumps({"info": {"features": features}})})
    table = pa.Table.from_pydict({"image": pngs, "label": digits.labels.astype(np.int64)}, schema=schema)
    pq.write_table(table, path)


# ------------------------------------------------------------------------------------------------------ recipes


@dataclass(frozen=True)
class Recipe:
    """How to stage one architecture: the config to put in the staged manifest, and the file writer."""

    config: Callable[[WeightsEntry], dict]
    write: Callable[[WeightsEntry, dict, int, Path], None]


def _keep(entry: WeightsEntry) -> dict:
    return dict(entry.config)


def _with(small: Mapping[str, Any]) -> Callable[[WeightsEntry], dict]:
    return lambda entry: {**entry.config, **copy.deepcopy(dict(small))}


RECIPES: dict[str, Recipe] = {
    "agenet": Recipe(_keep, _write_agenet),
    "cyclegan": Recipe(_with(CYCLEGAN_TINY), _write_cyclegan),
    "dataset": Recipe(_keep, _write_dataset),
    "dcgan": Recipe(_keep, _write_dcgan),
    "deoldify": Recipe(_deoldify_config, _write_deoldify),
    "fomm": Recipe(lambda entry: copy.deepcopy(FOMM_TINY), _write_fomm),
    "pggan": Recipe(_with(PGGAN_TINY), _write_pggan),
    "tpsmm": Recipe(lambda entry: copy.deepcopy(TPSMM_TINY), _write_tpsmm),
    "zhang": Recipe(_keep, _write_zhang),
}


def recipe_for(entry: WeightsEntry) -> Recipe:
    """The entry's recipe; an architecture without one is an error, so no entry is silently left out."""
    try:
        return RECIPES[entry.architecture]
    except KeyError:
        raise StagingError(
            f"entry '{entry.name}': tests/staging.py has no random-weights recipe for architecture "
            f"'{entry.architecture}' (known: {', '.join(sorted(RECIPES))}); add one so the end-to-end tests cover it"
        ) from None


@functools.cache
def _code_digest() -> str:
    digest = hashlib.sha256()
    for name in RECIPE_SOURCES:
        path = TESTS_DIR / name
        digest.update(path.read_bytes() if path.is_file() else name.encode())
    return digest.hexdigest()


def _fingerprint(entry: WeightsEntry, config: dict) -> str:
    """What a staged file depends on; a re-run reuses a file only if this and its sha256 are unchanged."""
    recipe = {"code": _code_digest(), "architecture": entry.architecture, "filename": entry.filename,
              "repo_id": entry.repo_id, "source_config": entry.config, "config": config, "seed": _seed(entry.name)}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Run ``write`` on a file of the same name in a private folder next to ``path``, then move it into place, so no
    reader ever sees a half-written file (torch's zip format also names its records after the file name)."""
    scratch = path.parent / f".staging-{os.getpid()}"
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = scratch / path.name
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        scratch.rmdir()


def _write_json(path: Path, data: Any) -> None:
    _atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8"))


def stage_weights(root: Path, source_manifest: Path | None = None) -> StagedWeights:
    """Write random weights for every entry of ``source_manifest`` (default: the repo's manifest) under
    ``root/weights/<name>/<file>`` and the manifest ``root/weights_manifest.json`` pointing at them.

    Files from an earlier call on the same root are reused when their recipe and sha256 are unchanged.
    """
    root = Path(root).resolve()
    source = load_manifest(source_manifest or DEFAULT_MANIFEST)  # not $GEN_MODELS_MANIFEST: that may be a staged one
    plans = [(entry, recipe_for(entry)) for entry in source]  # every architecture is checked before any work
    weights_dir = root / "weights"
    record_path = root / "staging.json"
    try:
        previous = json.loads(record_path.read_text(encoding="utf-8")).get("entries", {})
    except (OSError, ValueError, AttributeError):
        previous = {}
    record: dict[str, dict[str, Any]] = {}
    staged: dict[str, dict[str, Any]] = {}
    for entry, recipe in plans:
        config = recipe.config(entry)
        fingerprint = _fingerprint(entry, config)
        path = weights_dir / entry.name / entry.basename
        old = previous.get(entry.name, {}) if isinstance(previous, dict) else {}
        digest = sha256_file(path) if path.is_file() and old.get("fingerprint") == fingerprint else None
        if digest is None or digest != old.get("sha256"):
            seed = _seed(entry.name)
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                torch.manual_seed(seed)  # module initialisations too: the same root gets the same bytes
                _atomic(path, lambda tmp, r=recipe, e=entry, c=config, s=seed: r.write(e, c, s, tmp))
            digest = sha256_file(path)
        size = path.stat().st_size
        record[entry.name] = {"fingerprint": fingerprint, "sha256": digest, "size": size}
        data = entry.to_json()
        data.update(config=config, sha256=digest, size=size)
        staged[entry.name] = data
    manifest = {"version": MANIFEST_VERSION, "weights": staged}
    parse_manifest(manifest, "staged weights_manifest.json")  # the staged manifest must pass the project's checks
    manifest_path = root / "weights_manifest.json"
    _write_json(manifest_path, manifest)
    _write_json(record_path, {"code": _code_digest(), "entries": record})
    return StagedWeights(manifest_path, weights_dir)


def main(argv: list[str] | None = None) -> int:
    """CLI: stage into DIR and print the two ``export`` lines that point the app at it."""
    parser = argparse.ArgumentParser(description="Stage random weights for every manifest entry (no downloads).")
    parser.add_argument("dir", type=Path, help="folder to stage into (created; reused on re-runs)")
    parser.add_argument("--manifest", type=Path, default=None, help="source manifest (default: the repo's)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    staged = stage_weights(args.dir, args.manifest)
    total = sum(p.stat().st_size for p in staged.weights_dir.rglob("*") if p.is_file())
    print(f"staged {total / 1e6:.0f} MB in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    for key, value in staged.env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
