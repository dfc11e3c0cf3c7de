"""A server that can be left running in public: bounded training, cancellation that stops the work, an upload
cap, results that expire, and instances that keep their results apart."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from served_app import start_app, stop

from gen_models.core.errors import InputError
from gen_models.media.outputs import remove_expired
from gen_models.pipelines.labs import LabRun

ROOT = Path(__file__).resolve().parents[2]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_fraction(pid: int, seconds: float = 3.0) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


@pytest.fixture(scope="module")
def server():
    proc, url = start_app({"GEN_MODELS_MAX_UPLOAD_MB": "1", "GEN_MODELS_MAX_EPOCHS": "100"})
    from gradio_client import Client

    yield proc, url, Client(url, verbose=False)
    stop(proc)


def test_training_limits_name_their_variable(monkeypatch):
    with pytest.raises(InputError, match=r"1000000 epochs .* limit is 100 \(GEN_MODELS_MAX_EPOCHS raises it\)"):
        LabRun.digit_gan("tutorial", source="sklearn", epochs=1_000_000)
    monkeypatch.setenv("GEN_MODELS_MAX_STEPS", "50")
    with pytest.raises(InputError, match=r"limit is 50 per run \(GEN_MODELS_MAX_STEPS raises it\)"):
        LabRun.autoencoder("dense", source="sklearn", epochs=10, batch=16)
    monkeypatch.setenv("GEN_MODELS_MAX_STEPS", "20000")
    monkeypatch.setenv("GEN_MODELS_MAX_TRAINING_RUNS", "1")
    first = LabRun.autoencoder("dense", source="sklearn", epochs=2)
    running = first.run()
    next(running)  # holds the only slot
    with pytest.raises(InputError, match="GEN_MODELS_MAX_TRAINING_RUNS"):
        next(LabRun.autoencoder("dense", source="sklearn", epochs=1).run())
    running.close()  # a closed run gives its slot back
    assert list(LabRun.autoencoder("dense", source="sklearn", epochs=1).run())[-1].status.startswith("finished")


def test_epochs_over_the_limit_refused_through_the_api(server):
    _, _, client = server
    with pytest.raises(Exception, match="GEN_MODELS_MAX_EPOCHS"):
        client.predict("tutorial", -1, "sklearn", 1_000_000, 16, 0, 0, 0, -1, api_name="/train_digits_gan")


def test_cancelled_training_stops(server):
    proc, _, client = server
    job = client.submit("tutorial", -1, "sklearn", 100, 16, 0, 0, 0, -1, api_name="/train_digits_gan")
    deadline = time.monotonic() + 60
    while not job.outputs():  # progress has come back: the run is training
        assert time.monotonic() < deadline, "the training job never reported progress"
        time.sleep(0.2)
    assert busy_fraction(proc.pid, 1.0) > 0.5
    job.cancel()
    time.sleep(2)
    assert busy_fraction(proc.pid) < 0.15, "the server kept training after the job was cancelled"


def test_a_client_that_disconnects_stops_its_training(server):
    proc, url, _ = server
    script = textwrap.dedent(f"""
        import time
        from gradio_client import Client
        job = Client({url!r}, verbose=False).submit("tutorial", -1, "sklearn", 100, 16, 0, 0, 0, -1,
                                                  api_name="/train_digits_gan")
        while not job.outputs():
            time.sleep(0.2)
        print("training", flush=True)
        time.sleep(60)
    """)
    client = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert client.stdout.readline().strip() == "training"
        assert busy_fraction(proc.pid, 1.0) > 0.5
    finally:
        client.kill()  # gone without a word, as a closed laptop is
        client.wait()
    time.sleep(3)
    assert busy_fraction(proc.pid) < 0.15, "the server kept training for a client that is gone"


def test_uploads_over_the_limit_are_refused(server, tmp_path):
    import httpx
    from gradio_client import handle_file

    _, url, client = server
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + os.urandom(2 * 1024 * 1024))
    with pytest.raises(Exception, match="exceeds the maximum file size of 1048576 bytes"):  # the client checks
        client.predict([handle_file(str(big))], "dlib-age", False, api_name="/predict_age")
    with open(big, "rb") as data:  # and the server refuses a client that does not
        answer = httpx.post(f"{url}gradio_api/upload", files={"files": ("big.png", data, "image/png")}, timeout=30)
    assert answer.status_code == 413 and "maximum allowed size" in answer.text
    data, _, _ = client.predict([handle_file(str(ROOT / "spaces/age/examples/face_64.png"))], "dlib-age", True,
                                api_name="/predict_age")
    assert data["face_count"] == 1  # and the server still answers


def test_expired_outputs_are_removed(tmp_path):
    old, fresh = tmp_path / "old.png", tmp_path / "sub" / "fresh.png"
    fresh.parent.mkdir()
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (time.time() - 3 * 3600, time.time() - 3 * 3600))
    assert remove_expired(tmp_path, 3600) == 1
    assert not old.exists() and fresh.exists()
    assert remove_expired(tmp_path, 3600, now=time.time() + 7200) == 1 and not fresh.parent.exists()


def test_two_instances_keep_their_outputs_apart(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "GEN_MODELS_OUTPUT_DIR"}
    code = "from gen_models.media.outputs import new_output_path; print(new_output_path('.png').parent)"
    folders = [subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                              check=True).stdout.strip() for _ in range(2)]
    assert folders[0] != folders[1]
    assert not any(Path(f).exists() for f in folders), "a process's result folder goes when it exits"


def test_the_sweep_removes_expired_results_and_gradio_cache(tmp_path, monkeypatch):
    from webui.launch import sweep_once

    outputs, cache = tmp_path / "outputs", tmp_path / "gradio"
    for folder in (outputs, cache / "abc123"):
        folder.mkdir(parents=True)
    monkeypatch.setenv("GEN_MODELS_OUTPUT_DIR", str(outputs))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    monkeypatch.setenv("GEN_MODELS_OUTPUT_TTL_MINUTES", "1")
    old_result, old_upload = outputs / "gen-old.png", cache / "abc123" / "photo.png"
    new_result = outputs / "gen-new.png"
    for path in (old_result, old_upload, new_result):
        path.write_bytes(b"x")
    for path in (old_result, old_upload):
        os.utime(path, (time.time() - 120, time.time() - 120))
    assert sweep_once() == 2
    assert not old_result.exists() and not old_upload.exists() and new_result.exists()
