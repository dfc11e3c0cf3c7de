"""gen_models.media.image: decoding and validating uploads, writing labelled PNGs, output paths.

Every input is built in the test (in tmp_path or in memory); large images are PNG headers with no real pixel data
or small JPEGs checked against a lowered limit, so the file runs in a few seconds.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, PngImagePlugin

from gen_models.core.errors import InputError
from gen_models.media import image as media
from gen_models.media.image import load_image, read_png_metadata, save_png
from gen_models.media.outputs import new_output_path

ROOT = Path(__file__).resolve().parents[2]


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(width: int, height: int, *, bit_depth: int, colour_type: int, rows: bytes | None = None) -> bytes:
    """A PNG written by hand: with ``rows`` (filter bytes included) a real image, without them only a header
    and a token IDAT, which is enough for Image.open to report the size but fails if anyone decodes it."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(rows if rows is not None else b"\x00" * 64)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def png16_rgb(values: np.ndarray) -> bytes:
    """A 16-bit RGB PNG (colour type 2) of an HxWx3 uint16 array; Pillow cannot write these itself."""
    height, width, _ = values.shape
    rows = b"".join(b"\x00" + values[y].astype(">u2").tobytes() for y in range(height))
    return png_bytes(width, height, bit_depth=16, colour_type=2, rows=rows)


def gradient(width: int, height: int) -> np.ndarray:
    x = np.linspace(0, 255, width)[None, :]
    y = np.linspace(0, 255, height)[:, None]
    return np.stack([np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)),
                     np.full((height, width), 128.0)], axis=-1).round().astype(np.uint8)


@pytest.fixture
def limit(monkeypatch):
    """Set media.MAX_PIXELS for one test (so the suite does not depend on GEN_MODELS_MAX_PIXELS)."""
    def set_limit(pixels: int) -> None:
        monkeypatch.setattr(media, "MAX_PIXELS", pixels)
    set_limit(50_000_000)
    return set_limit


# --- files that are not (usable) images -------------------------------------------------------------------


def test_text_file_is_refused_with_its_name_and_the_accepted_formats(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, not an image\n")
    with pytest.raises(InputError) as caught:
        load_image(text)
    message = str(caught.value)
    assert "notes.txt" in message and "not an image" in message
    assert "PNG" in message and "JPEG" in message and "WebP" in message


def test_video_file_is_refused_as_not_an_image(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2mp41" + b"\x00" * 200)
    with pytest.raises(InputError, match=r"clip\.mp4 is not an image.*Accepted formats"):
        load_image(clip)


def test_empty_file_and_empty_bytes(tmp_path):
    empty = tmp_path / "blank.png"
    empty.touch()
    with pytest.raises(InputError, match=r"blank\.png is empty.*Accepted formats"):
        load_image(empty)
    with pytest.raises(InputError, match=r"upload is empty"):
        load_image(b"")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"gone\.jpg was not found"):
        load_image(tmp_path / "gone.jpg")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_image_cut_in_half_is_truncated_or_corrupt(tmp_path, fmt):
    noise = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), fmt)
    path = tmp_path / f"half.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=rf"half\.{fmt.lower()} is truncated or corrupt"):
        load_image(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_image_cut_inside_its_header_is_truncated_or_corrupt():
    data = encode(Image.new("RGB", (8, 8)), "PNG")
    with pytest.raises(InputError, match="upload is truncated or corrupt"):
        load_image(data[:20])


# --- colour modes ----------------------------------------------------------------------------------------------


def test_rgba_transparency_is_flattened_onto_white(tmp_path):
    rgba = np.zeros((4, 6, 4), dtype=np.uint8)
    rgba[..., :3] = (10, 200, 30)
    rgba[:, :3, 3] = 255  # left half opaque
    rgba[:, 3:, 3] = 0  # right half transparent (colour underneath is green, must not show)
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(path)
    loaded = load_image(path)
    assert loaded.rgb.shape == (4, 6, 3) and loaded.rgb.dtype == np.uint8
    assert (loaded.rgb[:, :3] == (10, 200, 30)).all()
    assert (loaded.rgb[:, 3:] == 255).all()
    assert "transparency flattened onto white" in loaded.notes


def test_opaque_rgba_and_palette_transparency(tmp_path):
    opaque = load_image(encode(Image.new("RGBA", (3, 3), (1, 2, 3, 255)), "PNG"))
    assert (opaque.rgb == (1, 2, 3)).all() and opaque.notes == []

    palette = Image.new("P", (2, 1))
    palette.putpalette([0, 0, 0, 200, 10, 20] + [0] * 762)
    palette.putpixel((1, 0), 1)
    loaded = load_image(encode(palette, "GIF", transparency=0))
    assert loaded.rgb[0, 0].tolist() == [255, 255, 255] and loaded.rgb[0, 1].tolist() == [200, 10, 20]
    assert "transparency flattened onto white" in loaded.notes


def test_gray_becomes_three_equal_channels():
    gray = np.arange(24, dtype=np.uint8).reshape(4, 6) * 10
    loaded = load_image(encode(Image.fromarray(gray, "L"), "PNG"))
    assert loaded.rgb.shape == (4, 6, 3)
    for channel in range(3):
        assert (loaded.rgb[..., channel] == gray).all()


def test_16_bit_gray_is_scaled_not_clipped():
    values = np.array([[65535, 32896, 0, 257, 1000]], dtype=np.uint16)
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"  # really a 16-bit file
    loaded = load_image(data)
    expected = np.round(values / 257)
    assert np.abs(loaded.rgb[..., 0].astype(int) - expected).max() <= 1
    assert loaded.rgb[0, 0].tolist() == [255, 255, 255] and loaded.rgb[0, 1].tolist() == [128, 128, 128]
    assert "16-bit image converted to 8-bit" in loaded.notes


def test_16_bit_rgb_png():
    # Pillow 12 opens a 16-bit RGB PNG as mode "RGB", keeping the high byte of each sample while decoding.
    values = np.array([[[65535, 32896, 0], [257, 514, 1000], [40000, 20000, 65280]]], dtype=np.uint16)
    data = png16_rgb(values)
    assert Image.open(io.BytesIO(data)).mode == "RGB"
    loaded = load_image(data)
    assert np.abs(loaded.rgb.astype(int) - np.round(values / 257)).max() <= 1
    assert loaded.rgb[0, 0].tolist() == [255, 128, 0]
    assert "16-bit image converted to 8-bit" in loaded.notes


@pytest.mark.parametrize(
    ("image", "fmt", "expected"),
    [
        (Image.new("1", (2, 2), 1), "PNG", 255),
        (Image.new("CMYK", (2, 2), (0, 0, 0, 0)), "TIFF", 255),
        (Image.new("CMYK", (2, 2), (0, 0, 0, 255)), "JPEG", 0),
        (Image.new("I", (2, 2), 65535), "TIFF", 255),
        (Image.new("I", (2, 2), 32896), "TIFF", 128),
        (Image.new("F", (2, 2), 0.5), "TIFF", 128),
        (Image.new("F", (2, 2), 200.0), "TIFF", 200),
    ],
    ids=["1", "CMYK-white", "CMYK-black-jpeg", "I-max", "I-mid", "F-unit", "F-8bit-range"],
)
def test_other_modes(image, fmt, expected):
    data = encode(image, fmt)
    assert Image.open(io.BytesIO(data)).mode == image.mode
    loaded = load_image(data)
    assert loaded.rgb.shape == (2, 2, 3) and loaded.rgb.dtype == np.uint8
    assert np.abs(loaded.rgb.astype(int) - expected).max() <= 2


def test_float_image_out_of_range_is_rescaled():
    values = np.array([[-1.0, 0.0, 3.0, np.nan]], dtype=np.float32)
    loaded = load_image(encode(Image.fromarray(values, "F"), "TIFF"))
    assert loaded.rgb[0, :, 0].tolist() == [0, 64, 255, 64]
    assert any("floating-point image scaled to 8-bit" in note for note in loaded.notes)


# --- frames and orientation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "label"), [("GIF", "animated GIF"), ("PNG", "animated PNG"), ("WEBP", "animated WebP")]
)
def test_animated_image_gives_its_first_frame(fmt, label):
    colours = [(250, 0, 0), (0, 250, 0), (0, 0, 250)]
    frames = [Image.new("RGB", (8, 8), colour) for colour in colours]
    params = {"lossless": True} if fmt == "WEBP" else {}
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **params)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    loaded = load_image(data)
    assert (np.abs(loaded.rgb.astype(int) - colours[0]) <= 2).all()
    assert f"{label}: used frame 1 of 3" in loaded.notes


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:, :20] = (255, 0, 0)  # left half red
    stored[:, 20:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90° clockwise
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif)
    loaded = load_image(path)
    assert loaded.rgb.shape == (40, 20, 3)
    assert loaded.original_size == (20, 40)
    top, bottom = loaded.rgb[5, 10].astype(int), loaded.rgb[35, 10].astype(int)
    assert top[0] > 200 and top[2] < 60  # what was on the left is now on top
    assert bottom[2] > 200 and bottom[0] < 60


# --- size limits --------------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("error")
def test_large_png_is_refused_before_decoding(tmp_path, limit, monkeypatch):
    decoded = []
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", lambda self: decoded.append(self.size))
    path = tmp_path / "huge.png"
    path.write_bytes(png_bytes(8000, 8000, bit_depth=8, colour_type=0))  # header only: decoding would fail
    with pytest.raises(InputError) as caught:
        load_image(path)
    assert decoded == []
    assert str(caught.value).startswith("huge.png: the image is 8000×8000 (64 MP); the limit is 50 MP.")


@pytest.mark.filterwarnings("error")
def test_pillows_decompression_bomb_guard_gives_the_same_message(limit):
    limit(10**10)  # our limit is above Pillow's, so its guard is what stops these
    with pytest.raises(InputError, match=r"^upload: the image is 10000×10000 \(100 MP\); the limit is 89\.5 MP\."):
        load_image(png_bytes(10_000, 10_000, bit_depth=8, colour_type=0))  # Pillow warns at this size
    with pytest.raises(InputError, match=r"^upload: the image is 400 MP; the limit is 89\.5 MP\."):
        load_image(png_bytes(20_000, 20_000, bit_depth=8, colour_type=0))  # Pillow raises at this size
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # its guard was not loosened


def test_large_jpeg_is_decoded_reduced_by_libjpeg(tmp_path, limit):
    limit(1_000_000)
    source = gradient(2400, 1600)
    path = tmp_path / "big.jpg"
    Image.fromarray(source).save(path, quality=95)
    loaded = load_image(path, max_side=10_000)
    height, width, _ = loaded.rgb.shape
    assert (width, height) == (1200, 800)  # 1/2 scale: without draft() it would be 2400×1600 here
    assert width * height <= 1_000_000
    assert loaded.original_size == (2400, 1600)
    assert "2400×1600 (3.84 MP) is over the 1 MP limit: reduced to 1/2 scale while decoding" in loaded.notes
    assert "downscaled from 2400×1600 to 1200×800 for processing" in loaded.notes
    reference = np.asarray(Image.fromarray(source).resize((1200, 800), Image.Resampling.LANCZOS)).astype(int)
    assert np.abs(loaded.rgb.astype(int) - reference).mean() < 3


def test_jpeg_too_large_even_at_one_eighth_is_refused(limit):
    limit(1000)
    with pytest.raises(InputError, match=r"upload: the image is 400×300 \(0\.12 MP\); the limit is 0\.001 MP"):
        load_image(encode(Image.new("RGB", (400, 300)), "JPEG"))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_max_side_downscale_keeps_aspect_ratio(fmt):
    source = gradient(300, 200)
    loaded = load_image(encode(Image.fromarray(source), fmt, **({"quality": 95} if fmt == "JPEG" else {})),
                        max_side=90)
    assert loaded.rgb.shape == (60, 90, 3)
    assert loaded.original_size == (300, 200)
    assert loaded.notes == ["downscaled from 300×200 to 90×60 for processing"]
    reference = np.asarray(Image.fromarray(source).resize((90, 60), Image.Resampling.LANCZOS)).astype(int)
    assert np.abs(loaded.rgb.astype(int) - reference).mean() < 3


def test_small_image_is_not_resized():
    loaded = load_image(encode(Image.new("RGB", (50, 40), (9, 8, 7)), "PNG"), max_side=50)
    assert loaded.rgb.shape == (40, 50, 3) and loaded.notes == []


def test_limits_come_from_the_environment_at_call_time(monkeypatch):
    monkeypatch.setattr(media, "MAX_PIXELS", None)
    monkeypatch.setattr(media, "MAX_SIDE", None)
    monkeypatch.setenv("GEN_MODELS_MAX_PIXELS", "1e6")
    monkeypatch.setenv("GEN_MODELS_MAX_SIDE", "512")
    assert (media.current_max_pixels(), media.current_max_side()) == (1_000_000, 512)
    monkeypatch.setenv("GEN_MODELS_MAX_SIDE", "64")
    assert load_image(encode(Image.new("RGB", (200, 100)), "PNG")).rgb.shape == (32, 64, 3)


# --- writing ------------------------------------------------------------------------------------------------------


def test_save_png_round_trip_with_synthetic_label(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    path = save_png(pixels, tmp_path / "out" / "fake.png", synthetic=True, model="toy-gan")
    assert path == tmp_path / "out" / "fake.png"
    assert np.array_equal(np.asarray(Image.open(path)), pixels)
    meta = read_png_metadata(path)
    assert meta["Software"] == "gen_models"
    assert meta["Source"] == meta["Model"] == "toy-gan"
    assert meta["AI-Generated"] == "true"
    assert meta["Description"] == "Synthetic image generated by toy-gan"
    assert meta["DigitalSourceType"] == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert 'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"' \
        in meta["XML:com.adobe.xmp"]
    assert list(tmp_path.joinpath("out").iterdir()) == [path]  # no partial file left behind


def test_save_png_not_synthetic_and_non_latin_text(tmp_path):
    pixels = np.full((4, 5), 77, dtype=np.uint8)
    path = save_png(pixels, tmp_path / "boxes.png", synthetic=False, model="dlib-age",
                    description="Âge estimé — 年齢 ✓")
    assert np.array_equal(np.asarray(Image.open(path)), pixels)
    meta = read_png_metadata(path)
    assert meta["AI-Generated"] == "false"
    assert "DigitalSourceType" not in meta and "XML:com.adobe.xmp" not in meta
    assert meta["Description"] == "Âge estimé — 年齢 ✓"
    assert meta["Model"] == "dlib-age"


def test_save_png_refuses_arrays_it_would_have_to_guess_about(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        save_png(np.zeros((4, 4, 3), dtype=np.float32), tmp_path / "x.png", synthetic=True)
    with pytest.raises(ValueError, match="uint8"):
        save_png(np.zeros((4, 4, 2), dtype=np.uint8), tmp_path / "x.png", synthetic=True)


def test_bytes_input_and_loading_a_saved_png(tmp_path):
    pixels = gradient(30, 20)
    path = save_png(pixels, tmp_path / "grad.png", synthetic=True, model="m")
    from_path = load_image(path)
    from_bytes = load_image(path.read_bytes())
    assert from_path.name == "grad.png" and from_bytes.name == "upload"
    assert np.array_equal(from_path.rgb, pixels) and np.array_equal(from_bytes.rgb, pixels)
    assert from_bytes.original_size == (30, 20) and from_bytes.notes == []
    from_path.rgb[0, 0] = 0  # a writable array of its own


def test_new_output_path(tmp_path, monkeypatch):
    folder = tmp_path / "outputs" / "nested"
    monkeypatch.setenv("GEN_MODELS_OUTPUT_DIR", str(folder))
    first, second = new_output_path(".png"), new_output_path("png", prefix="../age x")
    assert first != second
    assert first.parent == folder and second.parent == folder
    assert first.suffix == second.suffix == ".png"
    assert first.name.startswith("gen-") and second.name.startswith("age-x-")
    assert first.exists() and first.stat().st_size == 0  # reserved, so no other call can get it
    assert save_png(np.zeros((2, 2, 3), np.uint8), first, synthetic=True) == first
    assert read_png_metadata(first)["AI-Generated"] == "true"


def test_default_output_dir_is_under_the_temp_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("GEN_MODELS_OUTPUT_DIR", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    import gen_models.media.outputs as outputs

    monkeypatch.setattr(outputs, "_private_outputs", None)
    path = new_output_path(".png", prefix="demo")
    assert path.parent.parent == tmp_path and path.parent.name.startswith(f"gen_models_outputs-{os.getpid()}-")
    assert new_output_path(".png").parent == path.parent  # one folder for the whole process
