"""The batch tasks: what an item is, how inputs are listed and named, and which pipeline call makes each output.

A :class:`Task` turns the command line into :class:`Item`\\ s (an input file, a photo × driving-clip pair, a seed),
each with a stable output name derived from its input (``sub/photo.jpg`` → ``sub/photo.colorized.png``), and runs
its pipeline on a list of items (several at once where the pipeline takes several: age, faces). Pipelines write
into :func:`gen_models.media.outputs.output_dir`; :mod:`gen_models.batch.worker` moves their (signed) files into
the job's folder. Importing this module imports no pipeline and no torch.
"""

from __future__ import annotations

import abc
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gen_models.batch.sidecar import atomic_write_text
from gen_models.core.errors import GenModelsError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".avi", ".mkv", ".m4v", ".gif")
RESERVED = ("failures.jsonl", "age.jsonl")  # files of the job itself in DIR


class UsageError(GenModelsError):
    """The command line cannot make a job (no inputs, unknown model, an option of another task): exit code 2."""


@dataclass(frozen=True)
class Item:
    """One unit of work. ``key`` names it in messages and sorts results (an input's path relative to the folder
    given, ``photo.jpg × clip.mp4``, ``seed 42``); ``output`` is the result's path relative to the job's folder."""

    key: str
    output: str
    inputs: tuple[str, ...] = ()
    seed: int | None = None
    kind: str = "image"

    def to_json(self) -> str:
        return json.dumps({"key": self.key, "output": self.output, "inputs": list(self.inputs), "seed": self.seed,
                           "kind": self.kind})

    @classmethod
    def from_json(cls, text: str) -> Item:
        data = json.loads(text)
        return cls(data["key"], data["output"], tuple(data["inputs"]), data["seed"], data["kind"])


@dataclass
class Produced:
    """A pipeline's result for one item: its file (in the pipeline's output folder) and facts for the sidecar."""

    path: Path
    info: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Source:
    path: Path
    """Absolute path."""
    key: str
    """Relative to the folder it was found in (posix), or the file's name when the file itself was given."""


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def list_inputs(paths: Sequence[str | os.PathLike], suffixes: Iterable[str], *, exclude: Path | None = None,
                what: str = "images") -> list[Source]:
    """Files and folders → the files to process: folders are listed recursively and sorted, keeping the
    ``suffixes`` (case-insensitive) and leaving out hidden files and ``exclude`` (the job's own output folder);
    a file named on the command line is taken whatever its extension. Each file once, in the order given."""
    if not paths:
        raise UsageError(f"no input: give --input with {what} (files or folders)")
    suffixes = tuple(s.lower() for s in suffixes)
    exclude = exclude.resolve() if exclude is not None else None
    found: list[Source] = []
    seen: set[Path] = set()
    for raw in paths:
        root = Path(raw).expanduser()
        if not root.exists():
            raise UsageError(f"no such file or folder: {raw}")
        root = root.resolve()
        if root.is_file():
            candidates = [(root, root.name)]
        else:
            candidates = []
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if _hidden(relative) or path.suffix.lower() not in suffixes or not path.is_file():
                    continue
                if exclude is not None and (path == exclude or exclude in path.parents):
                    continue
                candidates.append((path, relative.as_posix()))
        for path, key in candidates:
            if path not in seen:
                seen.add(path)
                found.append(Source(path, key))
    if not found:
        listed = ", ".join(str(p) for p in paths)
        raise UsageError(f"no {what} found in {listed} (looked for {', '.join(suffixes)})")
    return found


def parse_seeds(spec: str) -> list[int]:
    """``0-99``, ``1,5,9``, ``0-9,100-109`` or a file of such specs (one or more a line, ``#`` comments)."""
    from gen_models.core.latent import MAX_SEED

    text = spec
    candidate = Path(spec).expanduser()
    if candidate.is_file():
        lines = candidate.read_text(encoding="utf-8").splitlines()
        text = ",".join(line.split("#", 1)[0] for line in lines)
    seeds: list[int] = []
    for part in text.replace(" ", ",").replace("\t", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                low, high = part.split("-", 1) if not part.startswith("-") else (None, None)
                first, last = int(low), int(high)
                if last < first:
                    raise UsageError(f"--seeds: the range {part} runs backwards")
                seeds.extend(range(first, last + 1))
            else:
                seeds.append(int(part))
        except (TypeError, ValueError):
            raise UsageError(f"--seeds: {part!r} is not a seed or a range such as 0-99") from None
    if not seeds:
        raise UsageError(f"--seeds: no seeds in {spec!r}")
    bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
    if bad:
        raise UsageError(f"--seeds: {bad[0]} is out of range (0 to {MAX_SEED})")
    return list(dict.fromkeys(seeds))


def _output_names(sources: Sequence[Source], tail: str) -> list[str]:
    """``sub/photo.jpg`` → ``sub/photo<tail>``; inputs that would share a name (photo.jpg and photo.png) keep
    their extension in it (``photo.jpg<tail>``). Two inputs with the same relative path (from two folders) are an
    error, since their results would overwrite each other."""
    def name(source: Source, full: bool) -> str:
        relative = Path(source.key)
        stem = relative.name if full else relative.stem
        return (relative.parent / f"{stem}{tail}").as_posix()

    first = [name(s, False) for s in sources]
    counts: dict[str, int] = {}
    for n in first:
        counts[n] = counts.get(n, 0) + 1
    names = [name(s, True) if counts[n] > 1 else n for s, n in zip(sources, first)]
    owners: dict[str, Source] = {}
    for source, output in zip(sources, names):
        if output in owners or output in RESERVED:
            other = owners.get(output)
            raise UsageError(f"{source.path} and {other.path if other else 'the job'} would both write {output}: "
                             "run them as separate jobs or rename one")
        owners[output] = source
    return names


# ----------------------------------------------------------------------------------------------- tasks
class Task(abc.ABC):
    """One ``python -m gen_models batch`` task."""

    name: str = ""
    catalog_task: str = ""
    summary: str = ""
    suffixes: tuple[str, ...] = IMAGE_SUFFIXES
    what = "images"
    tail = ".png"
    local_batch = 1
    """Items per pipeline call on the local path (where the pipeline takes several)."""
    ray_batch = 1
    """Items per Ray Data batch (what one actor call gets; small keeps the pool evenly loaded)."""
    flags: dict[str, Any] = {}
    """This task's options (argparse dest → default); they are recorded in each sidecar."""

    def options(self, args: Any) -> dict[str, Any]:
        return {dest: (default if getattr(args, dest, None) is None else getattr(args, dest))
                for dest, default in self.flags.items()}

    def items(self, args: Any, out_dir: Path) -> list[Item]:
        sources = list_inputs(args.input or [], self.suffixes, exclude=out_dir, what=self.what)
        return [Item(s.key, output, (str(s.path),), kind=self.kind_of(s.path))
                for s, output in zip(sources, _output_names(sources, self.tail))]

    def kind_of(self, path: Path) -> str:
        return "image"

    def check(self, options: dict[str, Any]) -> None:  # noqa: B027 - most tasks take every value their parser allows
        """Refuse bad option values before any work starts (UsageError); the default accepts them all."""

    @abc.abstractmethod
    def run(self, model: str, items: Sequence[Item], options: dict[str, Any]) -> list[Produced | BaseException]:
        """One result per item: its file or the exception that stopped it."""

    @staticmethod
    def each(items: Sequence[Item], one: Callable[[Item], Produced]) -> list[Produced | BaseException]:
        """``one`` on every item in turn; an item's exception is its result, and the others go on."""
        out: list[Produced | BaseException] = []
        for item in items:
            try:
                out.append(one(item))
            except Exception as exc:  # noqa: BLE001 (reported per item)
                out.append(exc)
        return out

    def finish(self, out_dir: Path, items: Sequence[Item]) -> list[str]:
        """After the job, with the items whose outputs are this job's: write job-wide files (age.jsonl); returns
        lines for the summary."""
        return []


def _errors(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, GenModelsError) else f"{type(exc).__name__}: {exc}"


class ItemError(GenModelsError):
    """An item's own error, reported by a pipeline that carries on with the others (age)."""


class AgeTask(Task):
    name, catalog_task = "age", "age"
    summary = "faces, ages and genders in photos: one JSON line per face (DIR/age.jsonl)"
    tail = ".age.jsonl"
    local_batch, ray_batch = 16, 4
    flags = {"whole_image": False}

    def run(self, model, items, options):
        from gen_models.media.outputs import new_output_path
        from gen_models.pipelines.age import MAX_IMAGES, predict_age

        if len(items) > MAX_IMAGES:
            raise ValueError(f"at most {MAX_IMAGES} images per call")
        result = predict_age([Path(i.inputs[0]) for i in items], model=model, whole_image=bool(options["whole_image"]),
                             write_annotated=False)
        out: list[Produced | BaseException] = []
        for item, entry in zip(items, result.data["images"]):
            if "error" in entry:
                out.append(ItemError(entry["error"]))
                continue
            lines = [json.dumps({"file": item.key, "face": index, **face})
                     for index, face in enumerate(entry["faces"], 1)]
            path = new_output_path(".jsonl", prefix="age")
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            info = {"faces": len(lines), "width": entry["width"], "height": entry["height"], "notes": entry["notes"]}
            if "message" in entry:
                info["message"] = entry["message"]
            out.append(Produced(path, info))
        return out

    def finish(self, out_dir, items):
        """``DIR/age.jsonl``: every face of this job's images (done now or skipped as done), in the images' order."""
        lines, images, faceless = [], 0, 0
        for item in sorted(items, key=lambda i: i.key):
            path = out_dir / item.output
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8")
            images += 1
            faceless += not text.strip()
            lines.append(text)
        target = atomic_write_text(out_dir / "age.jsonl", "".join(lines))
        faces = sum(text.count("\n") for text in lines)
        return [f"{faces} faces in {images} images ({faceless} without a face) in {target}"]


class ColorizeTask(Task):
    name, catalog_task = "colorize", "colorization"
    summary = "black-and-white photos → colour PNGs"
    tail = ".colorized.png"
    flags = {"render_factor": None, "post_process": True}

    def options(self, args):
        from gen_models.pipelines.colorize import DEFAULT_RENDER_FACTOR

        options = super().options(args)
        if options["render_factor"] is None:
            options["render_factor"] = DEFAULT_RENDER_FACTOR
        return options

    def check(self, options):
        from gen_models.pipelines.colorize import check_render_factor

        try:
            check_render_factor(options["render_factor"])
        except GenModelsError as exc:
            raise UsageError(f"--render-factor: {exc}") from None

    def run(self, model, items, options):
        from gen_models.pipelines.colorize import colorize

        def one(item: Item) -> Produced:
            result = colorize(Path(item.inputs[0]), model=model, render_factor=int(options["render_factor"]),
                              post_process=bool(options["post_process"]))
            result.gray_path.unlink(missing_ok=True)
            return Produced(result.path, {"size": list(result.size), "render_factor": result.render_factor,
                                          "notes": result.notes})

        return self.each(items, one)


class TranslateTask(Task):
    name, catalog_task = "translate", "translation"
    summary = "photos → translated PNGs (CycleGAN)"
    tail = ".translated.png"
    flags = {"max_side": None}

    def options(self, args):
        from gen_models.pipelines.translation import MAX_SIDE

        options = super().options(args)
        if options["max_side"] is None:
            options["max_side"] = MAX_SIDE
        return options

    def check(self, options):
        from gen_models.pipelines.translation import MAX_SIDE_LIMIT

        if not 64 <= int(options["max_side"]) <= MAX_SIDE_LIMIT:
            raise UsageError(f"--max-side must be from 64 to {MAX_SIDE_LIMIT} px, got {options['max_side']}")

    def run(self, model, items, options):
        from gen_models.pipelines.translation import translate_photo

        def one(item: Item) -> Produced:
            result = translate_photo(Path(item.inputs[0]), model=model, max_side=int(options["max_side"]))
            return Produced(result.path, {"size": list(result.size), "notes": result.notes})

        return self.each(items, one)


class FacesTask(Task):
    name, catalog_task = "faces", "face-generation"
    summary = "seeds → generated face PNGs (--seeds 0-99, or a file of seeds)"
    local_batch, ray_batch = 16, 8
    flags = {"size": 256}

    def items(self, args, out_dir):
        if args.input:
            raise UsageError("faces takes seeds, not --input: use --seeds 0-99 (or --seeds FILE, seeds or ranges)")
        if not args.seeds:
            raise UsageError("faces needs --seeds, e.g. --seeds 0-99 or --seeds seeds.txt")
        return [Item(f"seed {seed}", f"seed{seed:05d}.png", (), seed, "seed") for seed in parse_seeds(args.seeds)]

    def check(self, options):
        from gen_models.pipelines.faces import OUTPUT_SIZES

        if not 16 <= int(options["size"]) <= OUTPUT_SIZES[-1]:
            raise UsageError(f"--size must be from 16 to {OUTPUT_SIZES[-1]} px, got {options['size']}")

    def run(self, model, items, options):
        from gen_models.pipelines.faces import generate_faces

        faces = generate_faces(model, [i.seed for i in items], size=int(options["size"]))
        return [Produced(face.path, {"seed": face.seed}) for face in faces]


class AnimateTask(Task):
    name, catalog_task = "animate", "talking-head"
    summary = "photos × driving clips → talking-head MP4s (--input photos, --driving clips)"
    tail = ".mp4"
    flags = {"mode": "relative", "best_frame": False, "paste_back": False, "side_by_side": False,
             "max_seconds": None}

    def items(self, args, out_dir):
        photos = list_inputs(args.input or [], IMAGE_SUFFIXES, exclude=out_dir, what="photos")
        if not args.driving:
            raise UsageError("animate needs --driving with the driving clips (files or folders)")
        clips = list_inputs(args.driving, VIDEO_SUFFIXES, exclude=out_dir, what="driving clips")
        stems = [Path(c.key).with_suffix("").as_posix().replace("/", "-") for c in clips]
        if len(set(stems)) < len(stems):
            stems = [c.key.replace("/", "-") for c in clips]
        items = []
        for photo, name in zip(photos, _output_names(photos, "")):
            for clip, stem in zip(clips, stems):
                items.append(Item(f"{photo.key} × {clip.key}", f"{name}.{stem}.mp4", (str(photo.path), str(clip.path)),
                                  kind="pair"))
        return items

    def check(self, options):
        from gen_models.pipelines.animate import MODES

        if options["mode"] not in MODES:
            raise UsageError(f"--mode must be one of {', '.join(MODES)}, got {options['mode']!r}")

    def run(self, model, items, options):
        from gen_models.pipelines.animate import animate

        def one(item: Item) -> Produced:
            result = animate(Path(item.inputs[0]), Path(item.inputs[1]), model=model, mode=options["mode"],
                             best_frame=bool(options["best_frame"]), paste_back=bool(options["paste_back"]),
                             side_by_side=bool(options["side_by_side"]), max_seconds=options["max_seconds"])
            return Produced(result.path, {"frames": result.frames, "fps": result.fps, "notes": result.notes})

        return self.each(items, one)


class FaceSwapTask(Task):
    name, catalog_task = "face-swap", "face-swap"
    summary = "clips (and photos) of person A → the catalog pair's person B in their place (MP4s, PNGs)"
    suffixes = VIDEO_SUFFIXES + IMAGE_SUFFIXES
    what = "clips or photos"
    flags = {"direction": "a-to-b", "smoothing": "smoothed", "seamless": False, "side_by_side": False,
             "max_seconds": None}

    def items(self, args, out_dir):
        sources = list_inputs(args.input or [], self.suffixes, exclude=out_dir, what=self.what)
        items = []
        for source, name in zip(sources, _output_names(sources, ".swapped")):
            kind = self.kind_of(source.path)
            items.append(Item(source.key, f"{name}{'.mp4' if kind == 'video' else '.png'}", (str(source.path),),
                              kind=kind))
        return items

    def kind_of(self, path):
        return "image" if path.suffix.lower() in IMAGE_SUFFIXES else "video"

    def check(self, options):
        from gen_models.pipelines.face_swap import DIRECTIONS, SMOOTHING

        if options["direction"] not in DIRECTIONS:
            raise UsageError(f"--direction must be one of {', '.join(DIRECTIONS)}")
        if options["smoothing"] not in SMOOTHING:
            raise UsageError(f"--smoothing must be one of {', '.join(SMOOTHING)}")

    def run(self, model, items, options):
        from gen_models.pipelines.face_swap import flicker_text, swap_image, swap_video

        def one(item: Item) -> Produced:
            if item.kind == "image":
                result = swap_image(Path(item.inputs[0]), model=model, direction=options["direction"],
                                    seamless=bool(options["seamless"]))
            else:
                result = swap_video(Path(item.inputs[0]), model=model, direction=options["direction"],
                                    smoothing=options["smoothing"], seamless=bool(options["seamless"]),
                                    side_by_side=bool(options["side_by_side"]), max_seconds=options["max_seconds"])
            info = {"frames": result.frames, "faces_found": result.faces_found, "notes": result.notes}
            if result.flicker:
                info["flicker"] = flicker_text(result.flicker)
            return Produced(result.path, info)

        return self.each(items, one)


TASKS: dict[str, Task] = {t.name: t for t in (AgeTask(), ColorizeTask(), TranslateTask(), FacesTask(), AnimateTask(),
                                              FaceSwapTask())}
"""The batch tasks by their command-line name."""


def task(name: str) -> Task:
    if name not in TASKS:
        raise UsageError(f"unknown task {name!r}: choose one of {', '.join(TASKS)}")
    return TASKS[name]


def message(exc: BaseException) -> str:
    """An exception as one line for failures.jsonl."""
    text = " ".join(_errors(exc).split())
    return text or type(exc).__name__
