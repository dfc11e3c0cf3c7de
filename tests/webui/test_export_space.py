"""``python -m webui export-space``: each demo as a Hugging Face Space repository, whose README front matter is the
Space's configuration, and which runs from its own folder with nothing else of this repository present."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import gradio
import httpx
import pytest
import yaml
from served_app import stop

from gen_models.core.manifest import BUNDLED_DIR, load_manifest
from webui.__main__ import main as cli
from webui.export import SHORT_DESCRIPTION_MAX, demo_entries
from webui.loading import DEMOS, find_demo

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = [d.folder for d in DEMOS if d.folder]
USES = {  # catalog tasks (and single entries) each demo's ui.py uses: read off the code, pinned here
    "age": (("age",), ()),
    "faces": (("face-generation", "age"), ()),
    "walk": (("face-generation",), ("dlib-age",)),
    "talking_heads": (("talking-head",), ()),
    "face_swap": (("face-swap",), ()),
    "colorize": (("colorization",), ()),
    "labs": (("digits-generation", "autoencoder", "translation", "dataset"), ()),
}
NEEDS_DOWNLOAD = {"faces", "walk", "talking_heads", "colorize", "labs"}  # their default model is not shipped
ENDPOINTS = {"age": "/predict_age", "faces": "/generate_faces", "walk": "/latent_walk", "talking_heads": "/animate",
             "face_swap": "/swap_faces", "colorize": "/colorize", "labs": "/translate"}
HARDWARE = {"cpu-basic", "cpu-upgrade", "t4-small", "t4-medium", "l4x1", "l4x4", "l40sx1", "l40sx4", "l40sx8",
            "a10g-small", "a10g-large", "a10g-largex2", "a10g-largex4", "a100-large", "a100x4", "a100x8"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    return free_port()  # bound and released: nothing listens there


def offline_env(scratch: Path) -> dict[str, str]:
    """This environment without PYTHONPATH, HF_* or GEN_MODELS_*, offline, with empty weights folders."""
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith(("HF_", "GEN_MODELS_", "GRADIO_", "SPACES_"))}
    for name in ("weights", "hf-home", "cache", "outputs", "gradio"):
        (scratch / name).mkdir(parents=True, exist_ok=True)
    return {**env, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
            "GEN_MODELS_WEIGHTS_DIR": str(scratch / "weights"), "HF_HOME": str(scratch / "hf-home"),
            "GEN_MODELS_CACHE": str(scratch / "cache"), "GEN_MODELS_OUTPUT_DIR": str(scratch / "outputs"),
            "GRADIO_TEMP_DIR": str(scratch / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False"}


def front_matter(readme: Path) -> dict:
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every demo exported by the command line, into DIR/<demo>/."""
    target = tmp_path_factory.mktemp("spaces") / "out"
    done = subprocess.run([sys.executable, "-m", "webui", "export-space", "--all", str(target)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for folder in FOLDERS:
        assert f"wrote {target / folder}:" in done.stdout
    return {folder: target / folder for folder in FOLDERS}


def test_each_demo_names_the_catalog_tasks_it_uses():
    assert {d.folder: (d.tasks, d.models) for d in DEMOS if d.folder} == USES


def test_unknown_demo_and_non_empty_folder_are_refused(tmp_path, capsys):
    assert cli(["export-space", "nope", str(tmp_path / "a")]) == 2
    assert "unknown demo 'nope'" in capsys.readouterr().err and not (tmp_path / "a").exists()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("mine")
    assert cli(["export-space", "age", str(tmp_path / "b")]) == 1
    assert "not empty" in capsys.readouterr().err and sorted(os.listdir(tmp_path / "b")) == ["keep.txt"]
    assert cli(["export-space", "--all", str(tmp_path / "b")]) == 1
    with pytest.raises(SystemExit) as stop:  # DEMO without DIR
        cli(["export-space", "age"])
    assert stop.value.code == 2


@pytest.mark.parametrize("folder", FOLDERS)
def test_front_matter_is_the_spaces_configuration(exported, folder):
    space, demo = exported[folder], find_demo(folder)
    config = front_matter(space / "README.md")
    entries = demo_entries(demo)
    hub = [e for e in entries if e.kind == "hub"]
    models = {e.repo_id for e in hub if e.repo_type == "model"}
    assert config["title"] == demo.title and config["sdk"] == "gradio" and config["app_file"] == "app.py"
    assert config["sdk_version"] == gradio.__version__ and config["license"] == "mit"
    assert config["colorFrom"] and config["colorTo"] and config["emoji"]
    assert 0 < len(config["short_description"]) <= SHORT_DESCRIPTION_MAX
    assert config["suggested_hardware"] in HARDWARE
    assert (config["suggested_hardware"] == "cpu-basic") == (folder in ("age", "labs", "face_swap"))
    assert "generative-models" in config["tags"]
    assert sorted(config.get("models", [])) == sorted(models)
    assert len(config.get("models", [])) == len(set(config.get("models", [])))
    assert sorted(config.get("datasets", [])) == sorted({e.repo_id for e in hub if e.repo_type == "dataset"})
    preload = config.get("preload_from_hub", [])
    assert sorted(line.split()[0] for line in preload) == sorted(models)  # one line per model repo
    for line in preload:
        repo, files, *revision = line.split(" ")
        mine = [e for e in hub if e.repo_id == repo]
        assert files.split(",") == [e.filename for e in mine]
        assert revision == ([mine[0].revision] if mine[0].revision != "main" else [])
    body = (space / "README.md").read_text(encoding="utf-8").split("---\n", 2)[2]
    for entry in entries:  # the models table
        assert f"| `{entry.name}` |" in body and entry.source in body
    assert "## Limits" in body and ("Content Credentials" in body)


def test_pinned_revisions_are_preloaded_at_that_revision(exported):
    (line,) = [x for x in front_matter(exported["colorize"] / "README.md")["preload_from_hub"]
               if x.startswith("databuzzword/deoldify-artistic ")]
    assert line == "databuzzword/deoldify-artistic ColorizeArtistic_gen.pth " + \
        load_manifest()["deoldify-artistic"].revision


@pytest.mark.parametrize("folder", FOLDERS)
def test_the_tree_holds_the_demo_and_nothing_else(exported, folder):
    space = exported[folder]
    files = {p.relative_to(space).as_posix() for p in space.rglob("*") if p.is_file()}
    assert {"app.py", "README.md", "requirements.txt", "weights_manifest.json", ".gitattributes",
            f"spaces/{folder}/ui.py"} <= files
    assert not [f for f in files if f.startswith("tests/") or "__pycache__" in f or f.endswith(".pyc")]
    assert {f.split("/")[1] for f in files if f.startswith("spaces/")} == {folder}
    assert {f for f in files if f.startswith("webui/")} >= {"webui/__init__.py", "webui/space.py", "webui/zerogpu.py"}
    assert "gen_models/core/manifest.py" in files
    examples = ROOT / "spaces" / folder / "examples"
    if examples.is_dir():
        assert {f"spaces/{folder}/examples/{p.name}" for p in examples.iterdir() if p.is_file()} <= files
    entries = demo_entries(find_demo(folder))
    wanted = {e.bundled_path.relative_to(BUNDLED_DIR).as_posix() for e in entries if e.bundled}
    shipped = {f.removeprefix("gen_models/bundled/") for f in files if f.startswith("gen_models/bundled/")}
    assert {Path(f).with_suffix("").as_posix() for f in shipped} == {Path(f).with_suffix("").as_posix() for f in wanted}
    catalog = json.loads((space / "weights_manifest.json").read_text())
    assert list(catalog["weights"]) == [e.name for e in load_manifest() if e.name in {x.name for x in entries}]
    assert "sys.path" not in (space / "app.py").read_text()  # the root needs no path changes
    lines = (space / "requirements.txt").read_text().splitlines()
    repo_lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert f"gradio[mcp]=={gradio.__version__}" in [x.split("#")[0].strip() for x in lines]
    assert [x for x in lines if not x.startswith("gradio")] == [x for x in repo_lines if not x.startswith("gradio")]


# --------------------------------------------------------------------------------------------- running them
class Servers:
    """Exported Spaces started from their own folders, at most two at a time (the next one boots while the
    current one is checked)."""

    def __init__(self, exported: dict[str, Path], scratch: Path) -> None:
        self.exported, self.scratch, self.running = exported, scratch, {}

    def _start(self, folder: str) -> None:
        port, log = free_port(), tempfile.TemporaryFile()
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=self.exported[folder],
                                env=offline_env(self.scratch / folder), stdout=log, stderr=subprocess.STDOUT)
        self.running[folder] = (proc, f"http://127.0.0.1:{port}", log)

    def get(self, folder: str) -> str:
        order = FOLDERS.index(folder)
        for other in [f for f in self.running if FOLDERS.index(f) < order]:
            self.stop(other)
        if folder not in self.running:
            self._start(folder)
        if order + 1 < len(FOLDERS) and FOLDERS[order + 1] not in self.running:
            self._start(FOLDERS[order + 1])
        proc, url, log = self.running[folder]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"{folder}'s app.py exited early:\n{log.read().decode()[-3000:]}")
            try:
                if httpx.get(url + "/gradio_api/info", timeout=5).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(f"{folder}'s app.py did not answer within 120 s")

    def stop(self, folder: str) -> None:
        proc, _, log = self.running.pop(folder)
        stop(proc)
        log.close()


@pytest.fixture(scope="module")
def servers(exported, tmp_path_factory):
    pool = Servers(exported, tmp_path_factory.mktemp("runs"))
    try:
        yield pool
    finally:
        for folder in list(pool.running):
            pool.stop(folder)


def run_event(url: str, fn_index: int, data: list) -> list:
    """One event through the queue, as the page runs its (private) load events."""
    session = uuid.uuid4().hex
    with httpx.Client(base_url=url, timeout=30) as client:
        client.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session,
                                                    "trigger_id": None}).raise_for_status()
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message["msg"] == "process_completed":
                        assert message["success"], message["output"]
                        return message["output"]["data"]
    raise AssertionError("the event stream ended without a result")


def weights_boxes(url: str) -> list[tuple[str, dict, list]]:
    """Every weights panel's state as the page shows it on load: (status text, Download button, main buttons)."""
    config = httpx.get(url + "/config", timeout=10).json()
    components = {c["id"]: c for c in config["components"]}
    out = []
    for dep in config["dependencies"]:
        kinds = [components[i]["type"] for i in dep["outputs"]]
        if any(event == "load" for _, event in dep["targets"]) and kinds[:2] == ["markdown", "button"]:
            data = [components[i]["props"].get("value") for i in dep["inputs"]]
            box, download, *buttons = run_event(url, dep["id"], data)
            out.append((box, download, buttons))
    return out


def test_the_space_runs_from_its_folder_alone(exported):
    """Its code is the folder's own, not this repository's."""
    space = exported["age"]
    done = subprocess.run([sys.executable, "-c", "import gen_models, webui, spaces; print(gen_models.__file__); "
                           "print(webui.__file__); print(spaces.GPU.__module__)"], cwd=space,
                          env=offline_env(space.parent / "probe"), capture_output=True, text=True, timeout=60)
    gen, web, gpu = done.stdout.split()
    assert Path(gen).is_relative_to(space) and Path(web).is_relative_to(space)
    assert gpu.startswith("spaces.")  # the installed ZeroGPU package, not the Space's spaces/ folder


def test_exported_age_answers_predict_age(servers, exported):
    from gradio_client import Client, handle_file

    url = servers.get("age")
    client = Client(url, verbose=False)
    photo = exported["age"] / "spaces" / "age" / "examples" / "astronaut.jpg"
    data, gallery, summary = client.predict([handle_file(str(photo))], "dlib-age", False, api_name="/predict_age")
    assert data["face_count"] == 1 and "1 face(s)" in summary and len(gallery) == 1
    assert 25 <= data["images"][0]["faces"][0]["age"] <= 60
    (box, download, buttons), = weights_boxes(url)
    assert "bundled, no download" in box and buttons[0]["interactive"] is True


@pytest.mark.parametrize("folder", [f for f in FOLDERS if f != "age"])
def test_exported_space_starts_and_shows_its_weights_state(servers, folder):
    url = servers.get(folder)
    page = httpx.get(url + "/", timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()
    info = httpx.get(url + "/gradio_api/info", timeout=10).json()
    assert ENDPOINTS[folder] in info["named_endpoints"]
    boxes = weights_boxes(url)
    if folder in NEEDS_DOWNLOAD:
        assert boxes, "no weights panel"
        box, download, buttons = boxes[0]
        assert "not downloaded yet" in box and "Offline mode is on" in box, box
        assert download["visible"] is False  # offline: prefetch instead, as the box says
        assert all(b["interactive"] is False for b in buttons)
    else:  # face swap: the bundled pair, nothing to download
        config = httpx.get(url + "/config", timeout=10).json()
        assert "faceswap-astronaut-hopper" in json.dumps(config)
