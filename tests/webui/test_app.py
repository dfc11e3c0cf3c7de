"""The launched app, as users and API clients see it: gradio_client calls and a headless-Chromium page load."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from catalogs import shipped_entries
from PIL import Image
from served_app import free_port, start_app, stop

from gen_models.media.video import probe
from gen_models.train.digits_gan import DigitGANTrainer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "spaces" / "age" / "examples"


@pytest.fixture(scope="module")
def app_url():
    proc, url = start_app()
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_predict_age_api_on_the_astronaut(client):
    from gradio_client import handle_file

    data, gallery, summary = client.predict([handle_file(str(EXAMPLES / "astronaut.jpg"))], "dlib-age", False,
                                            api_name="/predict_age")
    assert data["face_count"] == 1 and "1 face(s)" in summary
    assert "annotated" not in data["images"][0]  # no server path: the annotated image comes as a file
    with Image.open(gallery[0]["image"]) as annotated:  # downloaded by the client
        assert annotated.size == (512, 512)
    assert gallery[0]["caption"].startswith("astronaut.jpg: #1 ")
    face = data["images"][0]["faces"][0]
    assert 25 <= face["age"] <= 60
    left, top, right, bottom = face["box"]
    assert 150 < left < right < 300 and 50 < top < bottom < 200  # her face, in the 512×512 photo
    assert abs(sum(face["buckets"].values()) - 1) < 1e-3


def test_bad_upload_is_an_error_and_the_app_keeps_serving(client, tmp_path):
    from gradio_client import handle_file

    text = tmp_path / "notes.txt"
    text.write_text("this is not a photo")
    with pytest.raises(Exception, match="Invalid file type"):  # refused by the upload component itself
        client.predict([handle_file(str(text))], "dlib-age", False, api_name="/predict_age")
    disguised = tmp_path / "holiday.jpg"
    disguised.write_text("this is not a photo either")
    with pytest.raises(Exception) as info:
        client.predict([handle_file(str(disguised))], "dlib-age", False, api_name="/predict_age")
    assert "holiday.jpg" in str(info.value) and "not an image" in str(info.value)

    data, _, _ = client.predict([handle_file(str(EXAMPLES / "face_64.png"))], "dlib-age", True,
                                api_name="/predict_age")
    assert data["face_count"] == 1 and data["images"][0]["faces"][0]["box"] == [0, 0, 63, 63]


def test_page_shows_every_tab_title(app_url, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium)")
    from webui.loading import DEMOS

    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom", app_url]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    for demo in DEMOS:
        assert demo.title.replace("&", "&amp;") in dom, demo.title
    assert "Predict ages" in dom


def test_a_demo_runs_alone_as_its_space(tmp_path):
    import urllib.request

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "spaces/age/app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, page = time.time() + 120, ""
        while time.time() < deadline and proc.poll() is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert "Age prediction" in page and "predict_age" in page
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def face_app(tmp_path_factory):
    """The app with a manifest whose face model is a tiny DCGAN in a local weights folder (no Hub involved)."""
    import json

    import torch
    from random_weights import tutorial_state_dict

    folder = tmp_path_factory.mktemp("face-app")
    (folder / "weights" / "dcgan-tiny").mkdir(parents=True)
    state = {k.replace("main.", "model.", 1): v for k, v in tutorial_state_dict(hidden=8).items()}
    torch.save(state, folder / "weights" / "dcgan-tiny" / "pytorch_model.bin")
    manifest = {"version": 1, "weights": {**shipped_entries(), "dcgan-tiny": {
        "repo_id": "test-org/dcgan-tiny", "filename": "pytorch_model.bin", "revision": "main", "license": "mit",
        "source": "https://example.org", "task": "face-generation", "architecture": "dcgan", "description": "tiny DCGAN"}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    proc, url = start_app({"GEN_MODELS_MANIFEST": str(folder / "manifest.json"),
                           "GEN_MODELS_WEIGHTS_DIR": str(folder / "weights")})
    from gradio_client import Client

    yield Client(url, verbose=False)
    stop(proc)


def test_face_endpoints_answer_through_the_api(face_app):
    faces = face_app.predict("dcgan-tiny", 3, 2, "64", "", False, api_name="/generate_faces")
    assert [item["caption"] for item in faces] == ["seed 3", "seed 4"]
    aged = face_app.predict("dcgan-tiny", 3, 4, "64", "dlib-age", True, api_name="/generate_faces")
    ages = [float(item["caption"].split("· ")[1].split(" y")[0]) for item in aged]
    assert ages == sorted(ages) and len(ages) == 4
    assert Image.open(faces[0]["image"]).size == (64, 64)

    gif, mp4 = face_app.predict("dcgan-tiny", "1, 2", 3, 10, "slerp", True, "64", api_name="/latent_walk")
    with Image.open(gif) as animation:
        assert animation.n_frames == 2 * 3 + 1
    mp4_path = mp4["video"] if isinstance(mp4, dict) else mp4
    assert probe(mp4_path).video_codec == "h264"

    grid = face_app.predict("dcgan-tiny", "1, 2", "3", "4, 5", 0.25, "64", api_name="/latent_arithmetic")
    assert Image.open(grid).size == (192, 192)
    strip = face_app.predict("dcgan-tiny", 42, 1, 3, 5, "64", api_name="/latent_directions")
    assert Image.open(strip).size == (5 * 64, 64)
    older, ages = face_app.predict("dcgan-tiny", 42, "age", 2, api_name="/attribute_edit")
    assert Image.open(older).size == (5 * 128, 128) and ages.count(" y") == 5

    with pytest.raises(Exception, match="keyframes"):
        face_app.predict("dcgan-tiny", "1", 3, 10, "slerp", True, "64", api_name="/latent_walk")


@pytest.fixture(scope="module")
def models_app(tmp_path_factory):
    """The app with a manifest of tiny or random-weight talking-head, colorization and CycleGAN models in a local
    weights folder, in their official file layouts."""
    import json

    import torch
    from random_weights import TINY_FOMM, official_artistic_state, tiny_fomm

    from gen_models.models.cyclegan import ResnetGenerator

    folder = tmp_path_factory.mktemp("models-app")
    weights = folder / "weights"
    for name in ("fomm-vox", "deoldify-artistic", "cyclegan-horse2zebra"):
        (weights / name).mkdir(parents=True)
    fomm = tiny_fomm()
    torch.save({"generator": fomm.generator.state_dict(), "kp_detector": fomm.kp_detector.state_dict()},
               weights / "fomm-vox" / "vox-cpk.pth.tar")
    torch.save(official_artistic_state(), weights / "deoldify-artistic" / "ColorizeArtistic_gen.pth")
    torch.save(ResnetGenerator(ngf=8, n_blocks=2).state_dict(), weights / "cyclegan-horse2zebra" / "horse2zebra.pth")
    common = {"license": "mit", "source": "https://example.org"}
    manifest = {"version": 1, "weights": {**shipped_entries(),
        "fomm-vox": {"repo_id": "t/fomm", "filename": "vox-cpk.pth.tar", "revision": "main",
            "task": "talking-head", "architecture": "fomm",
                     "config": TINY_FOMM, "description": "tiny FOMM", **common},
        "deoldify-artistic": {"repo_id": "t/deoldify", "filename": "ColorizeArtistic_gen.pth", "revision": "main",
                              "task": "colorization", "architecture": "deoldify", "config": {"variant": "artistic"}, **common},
        "cyclegan-horse2zebra": {"url": "https://example.org/horse2zebra.pth", "filename": "horse2zebra.pth",
                                 "task": "translation", "architecture": "cyclegan", "config": {"ngf": 8, "n_blocks": 2},
                                 "description": "tiny horse to zebra", **common},
    }}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    proc, url = start_app({"GEN_MODELS_MANIFEST": str(folder / "manifest.json"), "GEN_MODELS_WEIGHTS_DIR": str(weights)})
    from gradio_client import Client

    yield Client(url, verbose=False), folder
    stop(proc)


def test_animate_colorize_translate_answer_through_the_api(models_app):
    from gradio_client import handle_file
    from media_fixtures import driving_clip

    client, folder = models_app
    photo = Image.open(EXAMPLES / "astronaut.jpg").convert("RGB")
    clip = driving_clip(__import__("numpy").asarray(photo)[20:286, 73:373], folder / "clip.mp4", frames=8, fps=8)
    video, notes = client.predict(handle_file(str(EXAMPLES / "astronaut.jpg")), handle_file(str(clip)),
                                  "fomm-vox", "relative", True, False, True, True, "side by side", api_name="/animate")
    info = probe(video["video"] if isinstance(video, dict) else video)
    assert (info.video_codec, info.audio_codec, info.frames, info.width) == ("h264", "aac", 8, 768)
    assert "8 frames at 8 fps" in notes
    with pytest.raises(Exception, match="No face found in coffee.jpg"):
        client.predict(handle_file(str(EXAMPLES / "coffee.jpg")), handle_file(str(clip)), "fomm-vox",
                       "relative", True, False, True, True, "face", api_name="/animate")

    compare, png, text = client.predict(handle_file(str(EXAMPLES / "coffee.jpg")), "deoldify-artistic", 7, True,
                                        api_name="/colorize")
    assert Image.open(png).size == (600, 400) and len(compare) == 2 and "render factor 7" in text
    with pytest.raises(Exception, match="greater than maximum value 45"):
        client.predict(handle_file(str(EXAMPLES / "coffee.jpg")), "deoldify-artistic", 50, True, api_name="/colorize")

    translated = client.predict(handle_file(str(EXAMPLES / "coffee.jpg")), "cyclegan-horse2zebra", 256,
                                api_name="/translate")
    assert Image.open(translated).size == (600, 400)


def test_labs_answer_through_the_api(client):
    grid = client.predict("tutorial-7", 0, 8, api_name="/generate_digits")
    assert Image.open(grid).size == ((8 * 30 + 2) * 4, 32 * 4)
    result = client.predict("tutorial", 3, "sklearn", 1, 16, 0, 64, 3e-4, 0.5, api_name="/train_digits_gan")
    assert result["epochs"] == 1 and result["steps"] == 4 and 0 <= result["metrics"]["d_acc_real"] <= 1
    assert "gen_models" not in result["checkpoint"]  # a file the client downloaded, not the server's path
    config = DigitGANTrainer.resume(result["checkpoint"]).config
    with Image.open(result["image"]) as grid:
        assert grid.size[0] > 100
    assert (config.batch, config.lr, config.lr_g, config.beta1) == (16, 3e-4, 3e-4, 0.5)
    assert set(result["per_epoch"][0]) == {"epoch", "d_loss", "g_loss", "d_acc_real", "d_acc_fake"}
    image, text = client.predict("dense", 8, 0, api_name="/reconstruct")
    mse, baseline = (float(v) for v in text.split("Test MSE ")[1].split(" for")[0].split(" vs "))
    assert mse < 0.5 * baseline and Image.open(image).size[0] == (8 * 30 + 2) * 4
    _, text = client.predict("dense-denoise", "gaussian", 0.5, 0, api_name="/denoise")
    noisy, denoised = (float(v) for v in text.split("noisy ")[1].split(" → denoised "))
    assert denoised < noisy
    _, top, text = client.predict("dense", "uniform", None, api_name="/anomaly")
    assert float(text.split("AUROC ")[1]) > 0.95 and Path(top).is_file()
