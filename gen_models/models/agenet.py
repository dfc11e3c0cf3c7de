"""Levi & Hassner (CVPR-W 2015) AgeNet: the Caffe age classifier trained on Adience, as a PyTorch module.

The released ``age_net.caffemodel`` is read without Caffe, OpenCV or the protobuf package: a small wire-format reader
below decodes Caffe's ``NetParameter`` in both the old layout the real file uses (``layers``, V1LayerParameter, blobs
sized by num/channels/height/width) and the current one (``layer``, LayerParameter, blobs sized by BlobShape). The
blobs are matched to layers by name, checked against the shapes of the deploy prototxt and loaded with strict keys.

Architecture, from ``age_net_definitions/deploy.prototxt`` (GilLevi/AgeGenderDeepLearning @ 2d591d4): input
1×3×227×227 BGR minus the mean; conv1 96@7×7 stride 4 → ReLU → max-pool 3/2 → LRN(5, 1e-4, 0.75) → conv2 256@5×5
pad 2 → ReLU → pool → LRN → conv3 384@3×3 pad 1 → ReLU → pool → fc6 512 → ReLU → dropout → fc7 512 → ReLU →
dropout → fc8 8 → softmax. Caffe rounds pooled sizes up (227 → 56 → 28 → 14 → 7), hence ``ceil_mode=True``; fc6
sees 384·7·7 = 18,816 inputs. The model stays float32: LRN squares activations in the hundreds, which overflows fp16.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gen_models.core.errors import InputError, WeightsIntegrityError
from gen_models.models._config import config_from_dict

if TYPE_CHECKING:
    from gen_models.media.face import Face

# registry.create lays the model out channels-last on a CPU, where oneDNN's NHWC convolutions are faster
# (one thread, per face: 16.0 → 12.6 ms); the outputs differ by float rounding only
CPU_CHANNELS_LAST = True
AGE_BUCKETS = ["(0-2)", "(4-6)", "(8-12)", "(15-20)", "(25-32)", "(38-43)", "(48-53)", "(60-100)"]
# Approximate age in years for each bucket, for an expected age = Σ p_i · midpoint_i. The paper reports buckets only
# (no regression target); these are the bucket centres, except the open-ended (60-100), where 70 is our convention
# (the arithmetic 80 would pull every estimate up). Treat the resulting age as a rough summary, not a measurement.
BUCKET_MIDPOINTS = (1.0, 5.0, 10.0, 17.5, 28.5, 40.5, 50.5, 70.0)
MEAN_BGR = (78.4263377603, 87.7689143744, 114.895847746)  # per-channel means of the OpenCV recipe, B, G, R
INPUT_SIZE = 227
PARAM_COUNT = 11_415_048  # floats in the released net (× 4 bytes ≈ the 45.66 MB file)
MARGIN = 0.4  # AgeNet was trained on Adience crops that include hair and chin: grow the HOG box by 40%/side
AGENET_MARGIN = MARGIN


@dataclass(frozen=True)
class Config:
    """AgeNet settings.

    * ``num_classes``: output buckets of ``fc8`` (8, the Adience age groups of :data:`AGE_BUCKETS`).
    """

    num_classes: int = 8

    def __post_init__(self) -> None:
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {self.num_classes}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Config:
        """The catalog's ``config`` object (e.g. ``{"num_classes": 8}``); unknown keys are errors."""
        return config_from_dict(cls, raw, "agenet")

# ------------------------------------------------------------------------------------------------------------------
# Protobuf wire format, just enough for caffe.proto (BVLC/caffe @ 9b89154, src/caffe/proto/caffe.proto):
#   NetParameter:      layers = 2 (V1LayerParameter, old layout), layer = 100 (LayerParameter)
#   V1LayerParameter:  layer = 1 (V0LayerParameter: name = 1, blobs = 50), name = 4, type = 5 (enum), blobs = 6
#   LayerParameter:    name = 1, type = 2 (string), blobs = 7
#   BlobProto:         num = 1, channels = 2, height = 3, width = 4 (deprecated 4-D size), data = 5 (float, packed),
#                      shape = 7 (BlobShape: dim = 1, int64, packed), double_data = 8 (double, packed)
# Every other field is skipped by its wire type. Packed and unpacked encodings are both accepted.
# ------------------------------------------------------------------------------------------------------------------


_NOT_CAFFE = "is not a valid Caffe model file (truncated or corrupt?)"


class _Corrupt(Exception):
    """The bytes are not a well-formed protobuf message (or not the one expected)."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Corrupt("varint runs past the end")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) for each field; value is an int for varints, else the raw bytes."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Corrupt("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise _Corrupt(f"wire type {wire}")  # groups (3, 4) are not used by caffe.proto; 6, 7 do not exist
        if pos > end:
            raise _Corrupt("field runs past the end")
        yield number, wire, value


def _packed_varints(buf: memoryview) -> list[int]:
    values, pos = [], 0
    while pos < len(buf):
        value, pos = _varint(buf, pos)
        values.append(value)
    return values


def _read_blob(buf: memoryview) -> np.ndarray:
    """BlobProto → float32 array shaped like Caffe's Blob::FromProto (legacy 4-D fields win over ``shape``)."""
    legacy: dict[int, int] = {}
    dims: list[int] = []
    floats, doubles = bytearray(), bytearray()
    for number, wire, value in _fields(buf):
        if number in (1, 2, 3, 4) and wire == 0:
            legacy[number] = value
        elif number == 7 and wire == 2:
            for dim_number, dim_wire, dim in _fields(value):
                if dim_number == 1:
                    dims += _packed_varints(dim) if dim_wire == 2 else [dim]
        elif number == 5 and wire in (2, 5):
            floats += value
        elif number == 8 and wire in (1, 2):
            doubles += value
    shape = tuple(legacy.get(i, 0) for i in (1, 2, 3, 4)) if legacy else tuple(dims)
    if any(d >= 2**31 for d in shape) or len(floats) % 4 or len(doubles) % 8:
        raise _Corrupt("bad blob size")
    if floats:
        data = np.frombuffer(floats, dtype="<f4")
    else:
        data = np.frombuffer(doubles, dtype="<f8").astype(np.float32)
    if data.size != math.prod(shape):
        raise _Corrupt(f"blob of shape {shape} holds {data.size} values")
    return data.astype(np.float32, copy=False).reshape(shape)


def _read_layer(buf: memoryview, name_field: int, blobs_field: int) -> tuple[str, list[np.ndarray]]:
    name, blobs = "", []
    for number, wire, value in _fields(buf):
        if wire != 2:
            continue
        if number == name_field:
            name = bytes(value).decode("utf-8", "replace")
        elif number == blobs_field:
            blobs.append(_read_blob(value))
        elif (name_field, number) == (4, 1):  # V1 layer wrapping a V0 layer (Caffe before 2014)
            old_name, old_blobs = _read_layer(value, 1, 50)
            name, blobs = name or old_name, blobs + old_blobs
    return name, blobs


def read_caffemodel(path: str | Path) -> dict[str, list[np.ndarray]]:
    """Layer name → its parameter blobs (float32, shaped as stored) for every layer of a ``.caffemodel``.

    Reads the V1 layout (``layers``, field 2) and the current one (``layer``, field 100); layers without parameters
    map to ``[]``. Raises WeightsIntegrityError when the file is not a parsable Caffe model.
    """
    path = Path(path)
    buf = memoryview(path.read_bytes())
    layers: dict[str, list[np.ndarray]] = {}
    try:
        for number, wire, value in _fields(buf):
            if wire != 2 or number not in (2, 100):
                continue
            name, blobs = _read_layer(value, *((4, 6) if number == 2 else (1, 7)))
            if blobs and layers.get(name):
                raise WeightsIntegrityError(f"{path.name} has two layers named '{name}' with weights")
            if blobs or name not in layers:
                layers[name] = blobs
    except _Corrupt as exc:
        raise WeightsIntegrityError(f"{path.name} {_NOT_CAFFE}: {exc}") from None
    if not layers:
        raise WeightsIntegrityError(f"{path.name} {_NOT_CAFFE}: no layers")
    return layers


def _param_shapes(num_classes: int) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    return {
        "conv1": ((96, 3, 7, 7), (96,)),
        "conv2": ((256, 96, 5, 5), (256,)),
        "conv3": ((384, 256, 3, 3), (384,)),
        "fc6": ((512, 384 * 7 * 7), (512,)),
        "fc7": ((512, 512), (512,)),
        "fc8": ((num_classes, 512), (num_classes,)),
    }


def _strip_ones(shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(shape)
    while len(shape) > 1 and shape[0] == 1:
        shape = shape[1:]
    return shape


def caffe_to_state_dict(
    blobs: dict[str, list[np.ndarray]], num_classes: int = 8, source: str = "the Caffe model"
) -> dict[str, torch.Tensor]:
    """Caffe blobs (see :func:`read_caffemodel`) → an :class:`AgeNet` state dict (``conv1.weight``, ``conv1.bias``…).

    Blob 0 is the weight, blob 1 the bias. Caffe's leading singleton axes ((1, 1, out, in) for fc weights, (1, 1, 1,
    out) for biases) are dropped; anything else must match exactly. Raises WeightsIntegrityError naming the layer.
    """
    shapes = _param_shapes(num_classes)
    extra = sorted(name for name, found in blobs.items() if found and name not in shapes)
    if extra:
        raise WeightsIntegrityError(f"{source} has weights for layers AgeNet does not have: {', '.join(extra)}")
    state: dict[str, torch.Tensor] = {}
    for layer, expected_shapes in shapes.items():
        found = blobs.get(layer) or []
        if len(found) != 2:
            raise WeightsIntegrityError(
                f"{source}: layer '{layer}' has {len(found)} weight blobs, expected 2 (weight, bias); "
                "not an AgeNet file, or truncated?"
            )
        for kind, array, expected in zip(("weight", "bias"), found, expected_shapes):
            if _strip_ones(array.shape) != _strip_ones(expected):
                raise WeightsIntegrityError(
                    f"{source}: layer '{layer}' {kind} has shape {tuple(array.shape)}, expected {expected}"
                )
            state[f"{layer}.{kind}"] = torch.from_numpy(np.array(array, dtype=np.float32).reshape(expected))
    total = sum(t.numel() for t in state.values())
    wanted = sum(math.prod(s) for pair in shapes.values() for s in pair)
    if total != wanted:
        raise WeightsIntegrityError(f"{source} holds {total:,} weights, expected {wanted:,}")
    return state


class AgeNet(nn.Module):
    """The Levi-Hassner network; submodule names are the Caffe layer names, so checkpoints load with strict keys."""

    def __init__(self, num_classes: int = Config.num_classes) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 7, stride=4)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.fc6 = nn.Linear(384 * 7 * 7, 512)
        self.fc7 = nn.Linear(512, 512)
        self.fc8 = nn.Linear(512, num_classes)
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # Caffe rounds pooled sizes up
        self.norm = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)  # Caffe LRN, ACROSS_CHANNELS
        self.drop = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 227, 227) mean-subtracted BGR (see :func:`preprocess`) → logits (N, num_classes)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, INPUT_SIZE, INPUT_SIZE):
            raise InputError(f"AgeNet takes (N, 3, {INPUT_SIZE}, {INPUT_SIZE}) input, got {tuple(x.shape)}")
        x = self.norm(self.pool(F.relu(self.conv1(x))))
        x = self.norm(self.pool(F.relu(self.conv2(x))))
        x = self.pool(F.relu(self.conv3(x)))
        x = self.drop(F.relu(self.fc6(x.flatten(1))))
        x = self.drop(F.relu(self.fc7(x)))
        return self.fc8(x)

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax over the buckets (the deploy net's ``prob`` output)."""
        return torch.softmax(self.forward(x), dim=1)

    def predict_crops(self, crops: Sequence[np.ndarray]) -> list[dict]:
        """One result per RGB uint8 face crop: rough age in years, the likeliest bucket, bucket and class
        probabilities (rounded as the API returns them)."""
        device = next(self.parameters()).device
        with torch.inference_mode():
            probs = self.probabilities(preprocess_batch(crops).to(device)).float().cpu().numpy()
        ages = probs @ np.asarray(BUCKET_MIDPOINTS, dtype=np.float32)
        return [
            {
                "age": round(float(ages[i]), 2),
                "age_bucket": AGE_BUCKETS[int(np.argmax(probs[i]))],
                "buckets": {b: round(float(p), 5) for b, p in zip(AGE_BUCKETS, probs[i])},
                "probabilities": [round(float(p), 6) for p in probs[i]],
            }
            for i in range(len(crops))
        ]

    def predict_faces(self, rgb: np.ndarray, faces: list[Face], whole_image: bool) -> list[dict]:
        """One result per face: square crops around each box grown by :data:`MARGIN` (the whole image per face when
        ``whole_image``), as Adience was cropped; see :meth:`predict_crops`."""
        if not faces:
            return []
        from gen_models.media.face import square_crop

        crops = [rgb if whole_image else square_crop(rgb, face.box, MARGIN) for face in faces]
        return self.predict_crops(crops)


def _as_rgb(face: np.ndarray) -> np.ndarray:
    if not isinstance(face, np.ndarray) or face.dtype != np.uint8:
        raise InputError("A face must be a uint8 image array (height × width × 3, RGB)")
    if face.ndim == 2:
        face = face[:, :, None]
    if face.ndim != 3 or face.shape[2] not in (1, 3, 4) or face.shape[0] == 0 or face.shape[1] == 0:
        raise InputError(f"A face must be a height × width × 3 RGB image, got an array of shape {face.shape}")
    if face.shape[2] == 1:
        return np.repeat(face, 3, axis=2)
    return face[:, :, :3]


def preprocess(face_rgb: np.ndarray) -> torch.Tensor:
    """RGB uint8 face crop → (1, 3, 227, 227) float32 BGR minus :data:`MEAN_BGR`, as the OpenCV recipe feeds it.

    Equivalent to ``cv2.dnn.blobFromImage(face_bgr, 1.0, (227, 227), MEAN_BGR, swapRB=False)``: the crop is stretched
    to 227×227 (no aspect-ratio keeping, no crop) with torch's bilinear interpolation, pixel centres aligned
    (``align_corners=False``) and no antialiasing, which is what cv2's INTER_LINEAR does; the result is rounded to
    integers as cv2's uint8 resize is. cv2 computes in fixed point, so about one value in eight differs by 1 (of 255).
    Grey (H×W) and RGBA crops are accepted too.
    """
    rgb = _as_rgb(face_rgb)
    bgr = torch.from_numpy(np.ascontiguousarray(rgb[:, :, ::-1])).permute(2, 0, 1)[None].float()
    if bgr.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        bgr = F.interpolate(bgr, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        bgr = bgr.round().clamp_(0, 255)
    return (bgr - torch.tensor(MEAN_BGR, dtype=torch.float32).view(1, 3, 1, 1)).contiguous()


def preprocess_batch(faces_rgb: Sequence[np.ndarray]) -> torch.Tensor:
    """Several RGB uint8 crops of any sizes → (N, 3, 227, 227), each as :func:`preprocess`."""
    if len(faces_rgb) == 0:
        raise InputError("No face crops to classify")
    return torch.cat([preprocess(face) for face in faces_rgb])


def expected_age(probabilities: torch.Tensor | np.ndarray) -> np.ndarray:
    """Rough age in years per row, Σ p_i · :data:`BUCKET_MIDPOINTS`; the model itself only predicts buckets."""
    probs = probabilities.detach().float().cpu().numpy() if isinstance(probabilities, torch.Tensor) else probabilities
    return np.asarray(probs, dtype=np.float32) @ np.asarray(BUCKET_MIDPOINTS, dtype=np.float32)


def build(config: Config) -> AgeNet:
    """An AgeNet with fresh (random) weights."""
    return AgeNet(config.num_classes)


def load(path: str | Path, config: Config) -> AgeNet:
    """An AgeNet in eval mode on the CPU from the official ``.caffemodel`` or a ``.safetensors`` with the same keys.
    Raises WeightsIntegrityError when the file cannot be read or does not fit ``build(config)``."""
    from gen_models.core.checkpoint import load_checkpoint, load_strict

    path = Path(path)
    if path.suffix == ".safetensors":
        state = load_checkpoint(path)
    else:
        state = caffe_to_state_dict(read_caffemodel(path), config.num_classes, path.name)
    return load_strict(build(config), state, path.name).eval()


def load_agenet(path: str | Path, device: str | torch.device | None = None,
                num_classes: int = Config.num_classes) -> AgeNet:
    """:func:`load` with ``num_classes``, moved to ``device`` (CPU if none is given)."""
    model = load(path, Config(num_classes=num_classes))
    return model.to(torch.device(device) if device is not None else torch.device("cpu"))


def from_manifest(path: Path, config: dict, device: torch.device) -> AgeNet:
    """Registry loader: :func:`load` with ``Config.from_dict(config)``, moved to ``device``."""
    return load(path, Config.from_dict(config)).to(device)
