"""The repository's shape stays as the README describes it: one dependency list, imports one way, no path hacks."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("core", "media", "models", "train", "pipelines", "batch")  # each may import only the ones before it


def _requirements(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-r")]


def test_pyproject_and_requirements_list_the_same_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == _requirements(ROOT / "requirements.txt")
    dev = [d for d in _requirements(ROOT / "requirements-dev.txt")]
    assert sorted(project["optional-dependencies"]["dev"]) == sorted(dev)
    assert project["optional-dependencies"]["ray"] == _requirements(ROOT / "requirements-ray.txt")


def _python_files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py") if ".venv" not in p.parts]


def test_no_sys_path_insert_outside_the_stand_alone_spaces():
    offenders = [p.relative_to(ROOT).as_posix() for p in _python_files("gen_models", "webui", "spaces", "tests",
                                                                         "benchmarks")
                 if "sys.path.insert" in p.read_text() and not re.fullmatch(r"spaces/[^/]+/app\.py",
                                                                              p.relative_to(ROOT).as_posix())]
    assert offenders == [p for p in offenders if p == "tests/test_layout.py"]


def test_layers_import_one_way_and_gen_models_never_imports_gradio():
    pattern = re.compile(r"^\s*(?:from|import) (gen_models\.(\w+)|gradio)\b", re.M)
    for path in _python_files("gen_models"):
        layer = path.relative_to(ROOT / "gen_models").parts[0]
        text = path.read_text()
        for match in pattern.finditer(text):
            assert match.group(1) != "gradio", f"{path.name} imports gradio"
            target = match.group(2)
            if layer in LAYERS and target in LAYERS:
                assert LAYERS.index(target) <= LAYERS.index(layer), (
                    f"{path.relative_to(ROOT)} ({layer}) imports gen_models.{target}: layers import downwards only")
