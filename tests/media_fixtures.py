"""Inputs the talking-head tests and the tab's example share: a driving clip made by moving a real face photo."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

from gen_models.media.video import write_mp4


def tone(path: Path, seconds: float, frequency: int = 220) -> Path:
    """A quiet sine tone as WAV, to give a clip a sound track."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"sine=frequency={frequency}:duration={seconds}", "-af", "volume=0.2", str(path)], check=True)
    return path


def nodding_frames(photo: np.ndarray, frames: int, size: tuple[int, int] = (320, 320), fps: float = 25.0):
    """The photo's centre rotated, shifted and zoomed a little each frame: a head that nods and tilts."""
    height, width = photo.shape[:2]
    out_w, out_h = size
    for i in range(frames):
        t = i / fps
        angle = 8.0 * math.sin(2 * math.pi * t / 1.5)
        zoom = 1.0 + 0.05 * math.sin(2 * math.pi * t / 2.0)
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, zoom)
        matrix[0, 2] += out_w / 2 - width / 2
        matrix[1, 2] += out_h / 2 - height / 2 + 6 * math.sin(2 * math.pi * t / 1.5)
        yield cv2.warpAffine(photo, matrix, (out_w, out_h), borderMode=cv2.BORDER_REFLECT)


def driving_clip(photo: np.ndarray, path: Path, frames: int = 75, fps: float = 25.0, size=(320, 320),
                 audio: bool = True) -> Path:
    """An H.264 driving clip (with a tone track when ``audio``) from a face photo."""
    sound = tone(path.with_suffix(".wav"), frames / fps) if audio else None
    write_mp4(nodding_frames(photo, frames, size, fps), path, fps, model=None, audio_path=sound)
    if sound:
        sound.unlink()
    return path
