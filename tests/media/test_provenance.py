"""C2PA Content Credentials: every generated file is signed, c2pa.Reader reads back what made it, a changed file
reads as invalid, the signer is the configured one (or the install's local test signer), and signing can be off."""

from __future__ import annotations

import datetime
import json
import stat
import subprocess
import sys
from pathlib import Path

import c2pa
import numpy as np
import pytest
from PIL import Image

from gen_models.core.errors import InputError
from gen_models.media import provenance
from gen_models.media.image import read_png_metadata, save_png
from gen_models.pipelines.labs import digit_walk, generate_digit_grid

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "spaces" / "age" / "examples"


@pytest.fixture(autouse=True)
def own_signer(tmp_path_factory, monkeypatch):
    """A fresh install's state: no configured certificate, the local test signer under a cache of its own."""
    monkeypatch.setenv("GEN_MODELS_CACHE", str(tmp_path_factory.getbasetemp() / "c2pa-cache"))
    for name in ("GEN_MODELS_C2PA", "GEN_MODELS_C2PA_CERT", "GEN_MODELS_C2PA_KEY", "GEN_MODELS_AI_MARK"):
        monkeypatch.delenv(name, raising=False)


def active(path: Path) -> tuple[str, dict]:
    """The validation state and the active manifest, read with c2pa-python's own Reader."""
    with open(path, "rb") as stream, c2pa.Reader(provenance.MIME_TYPES[path.suffix], stream) as reader:
        return reader.get_validation_state(), reader.get_active_manifest()


def actions_of(manifest: dict) -> list[dict]:
    return next(a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))


def test_a_digits_png_carries_credentials_that_c2pa_reads_back():
    path = generate_digit_grid("lab-all", 0, 16)
    state, manifest = active(path)
    assert state == "Valid"  # intact; the local test signer is in no trust list, so not "Trusted"
    (action,) = actions_of(manifest)
    assert action["action"] == "c2pa.created"
    assert action["digitalSourceType"] == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert action["parameters"] == {"model": "lab-all", "license": "MIT"}
    assert action["softwareAgent"]["name"] == "gen_models"
    assert manifest["signature_info"]["common_name"] == provenance.LOCAL_SIGNER_NAME
    assert "thumbnail" not in manifest
    labels = read_png_metadata(path)  # the older text labels stay
    assert labels["AI-Generated"] == "true" and "trainedAlgorithmicMedia" in labels["XML:com.adobe.xmp"]
    report = provenance.read(path)
    assert report.intact and not report.trusted and report.synthetic
    assert any("unverified signer" in line for line in report.lines())


def test_the_manifest_adds_under_3_kb_so_files_over_30_kb_grow_under_10_percent(monkeypatch):
    signed_small, signed_large = generate_digit_grid("lab-all", 0, 16), generate_digit_grid("lab-all", 0, 64)
    monkeypatch.setenv("GEN_MODELS_C2PA", "0")
    plain_small, plain_large = generate_digit_grid("lab-all", 0, 16), generate_digit_grid("lab-all", 0, 64)
    growth_small = signed_small.stat().st_size - plain_small.stat().st_size
    growth_large = signed_large.stat().st_size - plain_large.stat().st_size
    assert 1000 < growth_small < 3000 and 1000 < growth_large < 3000  # no thumbnail (that alone was 276 KB)
    assert plain_large.stat().st_size > 30_000 and growth_large < 0.10 * plain_large.stat().st_size
    assert np.array_equal(np.asarray(Image.open(signed_small)), np.asarray(Image.open(plain_small)))


def test_a_changed_file_reads_as_invalid(tmp_path):
    path = generate_digit_grid("lab-all", 3, 16)
    data = bytearray(path.read_bytes())
    start = data.index(b"IDAT") + 8
    data[start] ^= 0x01  # one bit of the image data
    changed = tmp_path / "changed.png"
    changed.write_bytes(bytes(data))
    assert active(changed)[0] == "Invalid"
    report = provenance.read(changed)
    assert report.manifest and not report.intact and "assertion.dataHash.mismatch" in report.failures
    assert "INVALID" in report.lines()[1]
    cli = subprocess.run([sys.executable, "-m", "gen_models", "provenance", str(path), str(changed)],
                         capture_output=True, text=True, cwd=ROOT)
    assert cli.returncode == 1 and "INVALID" in cli.stdout and "valid signature" in cli.stdout


def gif_frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        return [np.asarray(image.seek(i) or image.convert("RGB")) for i in range(image.n_frames)]


def test_a_gif_and_an_mp4_are_signed_and_still_play(monkeypatch):
    from gen_models.media.video import probe, write_mp4

    gif = digit_walk("lab-all", [1, 2, 3], 4, 8)
    state, manifest = active(gif)
    assert state == "Valid" and actions_of(manifest)[0]["parameters"]["model"] == "lab-all"
    monkeypatch.setenv("GEN_MODELS_C2PA", "0")
    plain = digit_walk("lab-all", [1, 2, 3], 4, 8)
    monkeypatch.delenv("GEN_MODELS_C2PA")
    signed_frames = gif_frames(gif)
    assert len(signed_frames) == 3 * 4 + 1  # the walk loops back to its first digit
    assert all(np.array_equal(a, b) for a, b in zip(signed_frames, gif_frames(plain)))
    frames = [np.full((32, 48, 3), i * 20, np.uint8) for i in range(6)]
    mp4 = write_mp4(frames, Path(gif).with_suffix(".mp4"), 6, model="lab-all")
    assert active(mp4)[0] == "Valid" and probe(mp4).frames == 6 and "AI-generated" in probe(mp4).comment


def test_an_edit_names_the_users_file_as_its_parent(tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(photo)
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    out = save_png(np.zeros((40, 40, 3), np.uint8), tmp_path / "out.png", synthetic=True, model="zhang-eccv16",
                   provenance=provenance.edited("zhang-eccv16", photo, b"bytes are skipped", not_an_image))
    state, manifest = active(out)
    assert state == "Valid"
    assert [a["action"] for a in actions_of(manifest)] == ["c2pa.opened", "c2pa.edited"]
    assert [(i["title"], i["relationship"]) for i in manifest["ingredients"]] == [("photo.jpg", "parentOf")]
    assert actions_of(manifest)[1]["parameters"]["license"] == "bsd-2-clause (richzhang/colorization)"
    swap = save_png(np.zeros((40, 40, 3), np.uint8), tmp_path / "swap.png", synthetic=True, model="pair",
                    provenance=provenance.edited("pair", not_an_image, composite=True))
    state, manifest = active(swap)  # no readable input: created, then edited
    assert state == "Valid" and [a["action"] for a in actions_of(manifest)] == ["c2pa.created", "c2pa.edited"]
    assert actions_of(manifest)[1]["digitalSourceType"].endswith("/compositeWithTrainedAlgorithmicMedia")


def test_a_jpeg_is_signed_in_place(tmp_path):
    jpeg = tmp_path / "face.jpg"
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(jpeg, quality=90)
    assert provenance.sign_file(jpeg, provenance.created("pggan-celebahq-1024"))
    assert active(jpeg)[0] == "Valid" and Image.open(jpeg).size == (64, 64)
    assert not provenance.sign_file(tmp_path / "x.txt", provenance.created(None))  # not a signable format


def test_the_local_test_signer_is_made_once_and_its_key_is_private():
    first, second = provenance.credentials(), provenance.credentials()
    assert first.local and first.chain == second.chain and first.alg == "ed25519"
    key = provenance._local_dir() / "local-signer.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (provenance._local_dir() / "local-ca.pem").is_file()
    assert "unverified" in provenance.signing_note()


def _p256_signer(folder: Path, common_name: str) -> tuple[Path, Path]:
    """A P-256 signer issued by a CA of its own, as an organisation's certificate would be."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def base(subject: str, issuer: str, public) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])).public_key(public)
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))

    usage = dict(content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
                 encipher_only=False, decipher_only=False)
    ca = (base("Test CA", "Test CA", ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **usage), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (base(common_name, "Test CA", key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    cert, key_file = folder / "chain.pem", folder / "key.pem"
    cert.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert, key_file


def test_a_configured_certificate_signs_instead(tmp_path, monkeypatch):
    cert, key = _p256_signer(tmp_path, "Example Newsroom signer")
    monkeypatch.setenv("GEN_MODELS_C2PA_CERT", str(cert))
    monkeypatch.setenv("GEN_MODELS_C2PA_KEY", str(key))
    assert provenance.credentials().alg == "es256"
    state, manifest = active(generate_digit_grid("lab-all", 0, 4))
    assert state == "Valid" and manifest["signature_info"]["common_name"] == "Example Newsroom signer"
    assert "unverified" not in provenance.signing_note()
    monkeypatch.delenv("GEN_MODELS_C2PA_KEY")
    with pytest.raises(provenance.ProvenanceError, match="GEN_MODELS_C2PA_KEY is not set"):
        generate_digit_grid("lab-all", 0, 4)
    monkeypatch.setenv("GEN_MODELS_C2PA_KEY", str(cert))  # a certificate is not a key
    with pytest.raises(provenance.ProvenanceError, match="GEN_MODELS_C2PA_KEY is not an unencrypted PEM private key"):
        generate_digit_grid("lab-all", 0, 4)


def test_signing_off_keeps_the_text_labels(monkeypatch):
    monkeypatch.setenv("GEN_MODELS_C2PA", "0")
    path = generate_digit_grid("lab-all", 0, 4)
    report = provenance.read(path)
    assert not report.manifest and report.synthetic and report.labels["AI-Generated"] == "true"
    assert "off" in provenance.signing_note()


def test_files_that_are_not_generated_are_not_signed(tmp_path):
    plain = save_png(np.zeros((8, 8, 3), np.uint8), tmp_path / "annotated.png", synthetic=False)
    report = provenance.read(plain)
    assert not report.manifest and not report.synthetic
    assert provenance.read(EXAMPLES / "astronaut.jpg").problem == "no C2PA manifest in this file"
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert provenance.read(text).problem == "not an image or video format C2PA knows"
    with pytest.raises(InputError, match="no such file"):
        provenance.read(tmp_path / "missing.png")


def test_the_visible_mark_sits_in_the_lower_right_corner(monkeypatch):
    plain = np.asarray(Image.open(generate_digit_grid("lab-all", 0, 16)))
    monkeypatch.setenv("GEN_MODELS_AI_MARK", "1")
    marked = np.asarray(Image.open(generate_digit_grid("lab-all", 0, 16)))
    assert marked.shape == plain.shape
    h, w = plain.shape[:2]
    changed = np.argwhere(marked != plain)
    assert len(changed) > 100
    assert changed[:, 0].min() > h // 2 and changed[:, 1].min() > w // 2  # only the corner
    frame = provenance.visible_mark(np.full((360, 640, 3), 255, np.uint8))
    assert frame[-12:, -60:].mean() < 200 and frame[:100, :100].min() == 255


def test_the_json_report_names_every_field(tmp_path):
    path = generate_digit_grid("lab-all", 0, 4)
    out = subprocess.run([sys.executable, "-m", "gen_models", "provenance", "--json", str(path)],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    (report,) = json.loads(out)
    assert report["intact"] and report["synthetic"] and not report["trusted"]
    assert report["model"] == "lab-all" and report["actions"] == ["c2pa.created"]
