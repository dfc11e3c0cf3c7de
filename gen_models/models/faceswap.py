"""The classic face-swap autoencoder: one shared encoder, one decoder per person.

Re-implemented from the published description of faceswap's "original" and "lightweight" models (no code taken):

* **original**, 64 px: four 5×5 stride-2 convolutions (128, 256, 512, 1024 channels, LeakyReLU 0.1) → Dense(1024)
  → Dense(4·4·1024) → reshape → one upscale block to 8×8×512. Each decoder: upscale blocks 256 → 128 → 64 and a
  5×5 convolution to RGB with a sigmoid. An upscale block is a 3×3 convolution to 4× the channels, LeakyReLU 0.1
  and a pixel shuffle (×2).
* **lightweight**, 64 px: three downscales (128, 256, 512), Dense(512) → Dense(4·4·512) → upscale to 8×8×256;
  decoders as the original's.
* **128 px** (our extension, same shapes in between): the encoder starts with one more downscale (64 channels) and
  each decoder ends with one more upscale block (32 channels).
* ``width`` divides every channel count and dense size (÷8 trains on a CPU in minutes).

Training swaps nothing: decoder A learns to rebuild A's faces and decoder B B's, through the one encoder. Swapping is
``decoder_b(encoder(face_of_a))``. Checkpoints are safetensors with keys ``encoder.*``, ``decoder_a.*`` and
``decoder_b.*`` and a JSON card (layout, size, width, steps, data counts) in the metadata, so one file says what it is.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gen_models.core.checkpoint import load_strict
from gen_models.core.errors import InputError, WeightsIntegrityError, WeightsUnavailableError
from gen_models.models._config import config_from_dict

LAYOUTS = ("original", "lightweight")
SIZES = (64, 128)
WIDTHS = (1, 2, 4, 8, 16)
CARD_KEY = "face_swap_card"  # the safetensors metadata entry that holds the JSON card
FORMAT = "gen-models-face-swap/1"
SIDES = ("a", "b")
TRAIN_PREFIX = "train."  # resumable checkpoints add optimiser state and data under this prefix


@dataclass(frozen=True)
class Config:
    """``layout`` original | lightweight, ``size`` 64 | 128 px, channels and dense sizes divided by ``width``."""

    layout: str = "original"
    size: int = 64
    width: int = 1

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if self.size not in SIZES:
            raise ValueError(f"size must be one of {', '.join(map(str, SIZES))}, got {self.size!r}")
        if self.width not in WIDTHS:
            raise ValueError(f"width must be one of {', '.join(map(str, WIDTHS))}, got {self.width!r}")

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Config:
        return config_from_dict(cls, raw, "faceswap")

    @property
    def encoder_channels(self) -> tuple[int, ...]:
        base = (128, 256, 512, 1024) if self.layout == "original" else (128, 256, 512)
        if self.size == 128:
            base = (64, *base)
        return tuple(c // self.width for c in base)

    @property
    def dense(self) -> int:
        return (1024 if self.layout == "original" else 512) // self.width

    @property
    def bottleneck(self) -> int:
        """Channels of the 4×4 grid the second dense layer is reshaped to."""
        return self.dense

    @property
    def encoder_grid(self) -> int:
        """Side of the last downscale's output (what the first dense layer flattens)."""
        return self.size // 2 ** len(self.encoder_channels)

    @property
    def decoder_channels(self) -> tuple[int, ...]:
        base = (256, 128, 64) + ((32,) if self.size == 128 else ())
        return tuple(max(1, c // self.width) for c in base)


def _leaky() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.1, inplace=True)


class Downscale(nn.Sequential):
    """5×5 stride-2 convolution + LeakyReLU 0.1 (halves the side)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 5, stride=2, padding=2)
        self.act = _leaky()


class Upscale(nn.Sequential):
    """3×3 convolution to 4× the channels + LeakyReLU 0.1 + pixel shuffle (doubles the side)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout * 4, 3, padding=1)
        self.act = _leaky()
        self.shuffle = nn.PixelShuffle(2)


class Encoder(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        channels = (3, *config.encoder_channels)
        self.down = nn.Sequential(*(Downscale(a, b) for a, b in zip(channels[:-1], channels[1:])))
        self.dense1 = nn.Linear(channels[-1] * config.encoder_grid ** 2, config.dense)
        self.dense2 = nn.Linear(config.dense, 4 * 4 * config.bottleneck)
        self.up = Upscale(config.bottleneck, config.bottleneck // 2)
        self.bottleneck = config.bottleneck

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x).flatten(1)
        x = self.dense2(self.dense1(x)).view(-1, self.bottleneck, 4, 4)
        return self.up(x)


class Decoder(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        channels = (config.bottleneck // 2, *config.decoder_channels)
        self.up = nn.Sequential(*(Upscale(a, b) for a, b in zip(channels[:-1], channels[1:])))
        self.out = nn.Conv2d(channels[-1], 3, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.up(x)))


class FaceSwapAE(nn.Module):
    """Shared encoder, decoders A and B. Faces are float (N, 3, size, size) RGB in [0, 1], in and out."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder_a = Decoder(config)
        self.decoder_b = Decoder(config)
        self.card: dict[str, Any] = {}  # what the checkpoint says about itself (steps, data counts…)

    @property
    def size(self) -> int:
        return self.config.size

    def decoder(self, side: str) -> Decoder:
        if side not in SIDES:
            raise InputError(f"side must be 'a' or 'b', got {side!r}")
        return self.decoder_a if side == "a" else self.decoder_b

    def forward(self, faces: torch.Tensor, side: str = "b") -> torch.Tensor:
        """Encode ``faces`` and decode them as person ``side``: "b" on A's faces is the swap A → B."""
        return self.decoder(side)(self.encoder(faces))

    def swap(self, faces: torch.Tensor, to: str = "b") -> torch.Tensor:
        return self(faces, to)


def build(config: Config) -> FaceSwapAE:
    """A face-swap autoencoder with fresh weights (PyTorch's default initialisation)."""
    return FaceSwapAE(config)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------------------------- checkpoints
def card_of(model: FaceSwapAE, **extra: Any) -> dict[str, Any]:
    """The JSON card a checkpoint carries: its format, config, and what training recorded (steps, data counts…)."""
    return {"format": FORMAT, **asdict(model.config), **{k: v for k, v in model.card.items() if k not in ("format",)},
            **extra}


def save(model: FaceSwapAE, path: str | Path, *, extra: dict[str, torch.Tensor] | None = None,
         **card: Any) -> Path:
    """Write the weights (and ``extra`` tensors under ``train.``) as safetensors, the card in its metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for key, value in (extra or {}).items():
        state[TRAIN_PREFIX + key] = value.detach().cpu().contiguous()
    save_file(state, str(path), metadata={CARD_KEY: json.dumps(card_of(model, **card))})
    return path


def read_card(path: str | Path) -> dict[str, Any]:
    """The card of a face-swap checkpoint; a clear error for a file that is not one."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise WeightsUnavailableError(f"{path.name} is empty or missing")
    with open(path, "rb") as handle:
        head = handle.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        raise WeightsIntegrityError(f"{path.name} is not a safetensors file; upload a face-swap checkpoint "
                                    "(.safetensors) saved by this app's face-swap training")
    try:
        with safe_open(str(path), "pt") as handle:
            raw = (handle.metadata() or {}).get(CARD_KEY)
    except (SafetensorError, OSError) as exc:
        raise WeightsIntegrityError(f"{path.name} is not a valid safetensors file ({exc})") from None
    try:
        card = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        card = None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise WeightsIntegrityError(f"{path.name} is a safetensors file but not a face-swap checkpoint "
                                    "(its metadata has no face-swap card)")
    return card


def read_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(model weights, ``train.`` extras) of a face-swap checkpoint."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise WeightsIntegrityError(f"{Path(path).name} is not a valid safetensors file ({exc})") from None
    weights = {k: v for k, v in state.items() if not k.startswith(TRAIN_PREFIX)}
    extras = {k[len(TRAIN_PREFIX):]: v for k, v in state.items() if k.startswith(TRAIN_PREFIX)}
    return weights, extras


def load(path: str | Path, config: Config | None = None) -> FaceSwapAE:
    """A checkpoint loaded strictly; its card must agree with ``config`` when one is given (the catalog's)."""
    card = read_card(path)
    try:
        own = Config.from_dict({k: card[k] for k in ("layout", "size", "width") if k in card})
    except Exception as exc:  # a card with impossible values
        raise WeightsIntegrityError(f"{Path(path).name}: its card describes no face-swap model ({exc})") from None
    if config is not None and own != config:
        raise WeightsIntegrityError(f"{Path(path).name} holds a {own.layout} {own.size} px ÷{own.width} model, "
                                    f"but the catalog expects {config.layout} {config.size} px ÷{config.width}")
    model = build(own)
    weights, _ = read_tensors(path)
    load_strict(model, weights, Path(path).name)
    model.card = {k: v for k, v in card.items() if k not in ("layout", "size", "width", "format")}
    return model.eval().requires_grad_(False)
