"""Train the DCGAN 64×64 face generator (Radford et al. 2015, as in the PyTorch tutorial) on a folder of images.

Images are centre-cropped and resized to 64 (CelebA style), scaled to [-1, 1]. Adam 2e-4, β1 0.5, BCE. After each
epoch: a resumable checkpoint, the loss log (CSV) and a sample grid from fixed noise; at the end the generator is
written as safetensors with ``model.*`` keys, the layout :mod:`gen_models.models.dcgan` loads (point a manifest entry at it).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn
from torchvision.utils import make_grid

from gen_models.core.checkpoint import load_checkpoint
from gen_models.core.device import get_device
from gen_models.core.errors import InputError
from gen_models.media.image import accepted_formats, save_png
from gen_models.models.dcgan import Generator

SIZE = 64
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


@dataclass
class TrainConfig:
    data: str
    out: str
    epochs: int = 5
    batch: int = 128
    lr: float = 2e-4
    hidden: int = 64
    seed: int = 0
    resume: bool = False


@dataclass
class TrainResult:
    weights: Path
    sha256: str
    size: int
    epochs_done: int


class Discriminator(nn.Module):
    """The tutorial's discriminator: strided 4×4 convs with BatchNorm and LeakyReLU(0.2), one logit out."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        widths = [hidden, hidden * 2, hidden * 4, hidden * 8]
        layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten()


def _init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: N(0, 0.02) convs, N(1, 0.02) BatchNorm scales."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def load_faces(folder: str | Path) -> torch.Tensor:
    """All images under ``folder``, centre-cropped and resized to 64×64, as (N, 3, 64, 64) in [-1, 1]."""
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"No images found under {folder} (looked for {', '.join(sorted(IMAGE_SUFFIXES))}; "
                         f"readable formats: {', '.join(accepted_formats())}).")
    arrays = []
    for path in files:
        with Image.open(path) as image:
            image = image.convert("RGB")
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            image = image.crop((left, top, left + side, top + side)).resize((SIZE, SIZE), Image.LANCZOS)
            arrays.append(np.asarray(image))
    data = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()
    return data / 127.5 - 1


def _grid(images: torch.Tensor) -> np.ndarray:
    grid = make_grid(images.clamp(-1, 1), nrow=8, normalize=True, value_range=(-1, 1))
    return (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def train(config: TrainConfig, log: Callable[[str], None] = lambda _: None) -> TrainResult:
    """Train (or resume) and return the final generator file; every epoch leaves a resumable checkpoint."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    device = get_device()
    data = load_faces(config.data)
    torch.manual_seed(config.seed)
    generator, discriminator = Generator(hidden_size=config.hidden), Discriminator(config.hidden)
    generator.apply(_init)
    discriminator.apply(_init)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr, betas=(0.5, 0.999))
    fixed = torch.randn(64, generator.latent_dim, generator=torch.Generator().manual_seed(config.seed))
    start_epoch, checkpoint = 0, out / "checkpoint.pt"
    if config.resume and checkpoint.exists():
        state = load_checkpoint(checkpoint)
        generator.load_state_dict(state["generator"])
        discriminator.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        start_epoch = int(state["epoch"])
        torch.set_rng_state(state["rng"])
        log(f"resumed after epoch {start_epoch}")
    generator.to(device)
    discriminator.to(device)
    loss_fn = nn.BCEWithLogitsLoss()
    log_path = out / "losses.csv"
    if not (config.resume and log_path.exists()):
        log_path.write_text("epoch,step,loss_d,loss_g,d_real,d_fake\n")
    for epoch in range(start_epoch, config.epochs):
        order = torch.randperm(len(data))
        generator.train()
        with open(log_path, "a", newline="") as fh:
            writer = csv.writer(fh)
            for step, start in enumerate(range(0, len(data), config.batch)):
                real = data[order[start:start + config.batch]].to(device)
                n = real.shape[0]
                fake = generator(torch.randn(n, generator.latent_dim, device=device))
                opt_d.zero_grad()
                d_real, d_fake = discriminator(real), discriminator(fake.detach())
                loss_d = loss_fn(d_real, torch.ones_like(d_real)) + loss_fn(d_fake, torch.zeros_like(d_fake))
                loss_d.backward()
                opt_d.step()
                opt_g.zero_grad()
                d_on_fake = discriminator(fake)
                loss_g = loss_fn(d_on_fake, torch.ones_like(d_on_fake))
                loss_g.backward()
                opt_g.step()
                writer.writerow([epoch + 1, step, f"{loss_d.item():.5f}", f"{loss_g.item():.5f}",
                                 f"{torch.sigmoid(d_real).mean().item():.4f}",
                                 f"{torch.sigmoid(d_fake).mean().item():.4f}"])
        generator.eval()
        with torch.inference_mode():
            samples = generator(fixed.to(device)).cpu()
        save_png(_grid(samples), out / f"samples_epoch{epoch + 1:03d}.png", synthetic=True, model="dcgan (training)",
                 description=f"epoch {epoch + 1}, fixed noise")
        torch.save({"generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
                    "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "epoch": epoch + 1,
                    "rng": torch.get_rng_state()}, checkpoint)
        log(f"epoch {epoch + 1}/{config.epochs}: loss_d {loss_d.item():.3f}, loss_g {loss_g.item():.3f}")
    weights = out / "generator.safetensors"
    save_file({k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}, str(weights))
    data_bytes = weights.read_bytes()
    return TrainResult(weights, hashlib.sha256(data_bytes).hexdigest(), len(data_bytes), config.epochs)
