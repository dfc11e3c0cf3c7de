"""MP4 and GIF writing: H.264 that browsers play, exact frame counts, audio kept, synthetic labels."""

from __future__ import annotations

import subprocess

import imageio_ffmpeg
import numpy as np
from PIL import Image

from gen_models.media.video import probe, write_gif, write_mp4


def frames(n: int, h: int = 63, w: int = 81) -> list[np.ndarray]:
    return [np.full((h, w, 3), (i * 20) % 255, dtype=np.uint8) for i in range(n)]


def test_mp4_is_h264_with_exact_frames_fps_and_label(tmp_path):
    path = write_mp4(frames(12), tmp_path / "walk.mp4", fps=8, model="pggan-test")
    info = probe(path)
    assert info.video_codec == "h264" and info.audio_codec is None
    assert (info.width, info.height) == (82, 64)  # padded to even sizes for yuv420p
    assert info.frames == 12 and abs(info.fps - 8) < 1e-6
    assert "Synthetic" in info.comment and "pggan-test" in info.comment


def test_mp4_keeps_audio_as_aac(tmp_path):
    tone = tmp_path / "tone.wav"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=2", "-ar", "16000", str(tone)], check=True)
    info = probe(write_mp4(frames(20), tmp_path / "a.mp4", fps=10, audio_path=tone))
    assert info.video_codec == "h264" and info.audio_codec == "aac" and info.frames == 20


def test_gif_loops_with_every_frame_and_label(tmp_path):
    path = write_gif(frames(7), tmp_path / "walk.gif", fps=10, model="dcgan")
    with Image.open(path) as gif:
        assert gif.n_frames == 7 and gif.info.get("loop") == 0 and gif.info.get("duration") == 100
        assert b"Synthetic" in gif.info.get("comment", b"")
        gif.seek(3)
        assert np.asarray(gif.convert("RGB"))[0, 0, 0] == 60
