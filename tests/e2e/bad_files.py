"""Files a user might upload: the examples, and the bad ones every image input must answer with our message."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
ASTRONAUT = ROOT / "spaces" / "talking_heads" / "examples" / "astronaut.jpg"
NODDING = ROOT / "spaces" / "talking_heads" / "examples" / "nodding_astronaut.mp4"
CAMERAMAN = ROOT / "spaces" / "colorize" / "examples" / "cameraman.png"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png(path: Path, side: int = 20_000) -> Path:
    """A valid side×side 1-bit PNG of a few dozen KB: its header says 400 MP, which no pixel is decoded for."""
    row = b"\x00" + bytes((side + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))
    return path


def png_16bit(source: Path, path: Path) -> Path:
    """``source`` as a 16-bit-per-channel RGB PNG (values × 257, so it equals the 8-bit image exactly)."""
    import cv2

    bgr = cv2.imread(str(source), cv2.IMREAD_COLOR)
    assert cv2.imwrite(str(path), bgr.astype(np.uint16) * 257)
    return path


def bad_images(folder: Path) -> dict[str, Path]:
    """One file per way an upload can fail to be an image, keyed by what it is."""
    folder.mkdir(parents=True, exist_ok=True)
    text = folder / "photo.png"
    text.write_text("this is a text file, not a photo")
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    video = folder / "clip.mp4"
    video.write_bytes(NODDING.read_bytes())
    return {"text": text, "empty": empty, "huge": huge_png(folder / "huge.png"), "video": video}


REFUSED_BY_IMAGE_INPUTS = {"video"}
"""Kinds the browser's image inputs do not take at all (their file picker accepts images only): the user then sees
the tab's "upload a photo" message; API clients, which can send anything, get the loader's message."""

EXPECTED = {  # what the message must say for each bad file
    "text": r"photo\.png is not an image that can be read",
    "empty": r"empty\.png is empty \(0 bytes\)",
    "huge": r"huge\.png: the image is 400 MP; the limit is 50 MP",
    "video": r"clip\.mp4 is not an image that can be read",
}
