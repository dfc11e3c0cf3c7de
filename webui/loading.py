"""Each demo lives in spaces/<demo>/ui.py with a ``build()`` that adds its components to the current Blocks.

``spaces/`` is deliberately not a package: on Hugging Face Spaces, ``import spaces`` must find ZeroGPU's package.
So demos are loaded from their file path under a private module name.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

SPACES_DIR = Path(__file__).resolve().parent.parent / "spaces"


@dataclass(frozen=True)
class Demo:
    """A tab: its folder under spaces/ (None while the demo is still being built), its title, and the catalog
    entries it uses: every entry of each of ``tasks`` (its menus offer them) plus the single entries ``models``
    names (used behind the scenes). ``python -m webui export-space`` ships, lists and preloads exactly those."""

    folder: str | None
    title: str
    summary: str
    tasks: tuple[str, ...] = ()
    models: tuple[str, ...] = ()


DEMOS: tuple[Demo, ...] = (  # ready demos first, so the page opens on one that works
    Demo("age", "Age prediction", "Find faces and predict their ages (dlib CC0 model offline, or Levi-Hassner AgeNet).",
         tasks=("age",)),
    Demo("faces", "Face generation", "Generate faces with PGGAN (CelebA-HQ 1024), with seeds you can reuse.",
         tasks=("face-generation", "age")),  # the age menu labels each face
    Demo("walk", "Latent walk & arithmetic", "Walk between faces as GIF/MP4, and add and subtract concepts.",
         tasks=("face-generation",), models=("dlib-age",)),  # older/younger labels faces with dlib's ages
    Demo("talking_heads", "Talking heads", "Animate a photo with a driving video (First Order Motion Model, TPSMM).",
         tasks=("talking-head",)),
    Demo("face_swap", "Face swap", "The classic deepfake autoencoder: extract two people's faces, train a pair, swap.",
         tasks=("face-swap",)),
    Demo("colorize", "Colorization", "Colorize black-and-white photos with DeOldify's models.",
         tasks=("colorization",)),
    Demo("labs", "Classic labs", "DCGAN digits trained in the browser, autoencoders, CycleGAN horse↔zebra.",
         tasks=("digits-generation", "autoencoder", "translation", "dataset")),  # dataset: MNIST, optional
)


def find_demo(folder: str) -> Demo:
    """The ready demo whose folder is ``folder``; a ValueError that lists the known ones otherwise."""
    for demo in DEMOS:
        if demo.folder and demo.folder == folder:
            return demo
    known = ", ".join(d.folder for d in DEMOS if d.folder)
    raise ValueError(f"unknown demo {folder!r} (known: {known})")


def load_demo(folder: str) -> ModuleType:
    """Import spaces/<folder>/ui.py by path (module name ``demo_<folder>_ui``)."""
    name = f"demo_{folder}_ui"
    if name in sys.modules:
        return sys.modules[name]
    path = SPACES_DIR / folder / "ui.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load demo UI from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
