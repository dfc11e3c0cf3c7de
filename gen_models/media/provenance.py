"""C2PA Content Credentials on every generated file, and what a file says about itself.

Text labels (PNG chunks, the MP4 and GIF comment) are lost on any re-save and no standard tool reads them; a C2PA
manifest is the machine-readable mark the EU AI Act (Art. 50) points to. Each generated PNG, JPEG, GIF and MP4 gets
one, signed with ``c2pa-python``: an actions assertion whose action is ``c2pa.created`` (generation) or
``c2pa.opened`` + ``c2pa.edited`` (colorization, animation, swap: the user's input is the parent ingredient), the
IPTC digital source type (``trainedAlgorithmicMedia``, or ``compositeWithTrainedAlgorithmicMedia`` for paste-backs
and swaps), the model's catalog name and licence, and this software's name and version. No thumbnails: they grew a
12 KB PNG to 288 KB.

Signing uses the certificate chain and key named by ``GEN_MODELS_C2PA_CERT`` / ``GEN_MODELS_C2PA_KEY``. Without
them a local test certificate is made once per install (an Ed25519 signer issued by a local CA, both kept under
``GEN_MODELS_CACHE``/c2pa; C2PA refuses self-signed signers): the signature is valid and tamper-evident, but no
verifier trusts it, so readers report the credentials as unverified. ``GEN_MODELS_C2PA=0`` turns signing off.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gen_models import __version__
from gen_models.core import settings
from gen_models.core.errors import GenModelsError, InputError
from gen_models.core.files import replacing

SOFTWARE = "gen_models"
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED_ALGORITHMIC_MEDIA = IPTC + "trainedAlgorithmicMedia"
"""IPTC Digital Source Type for media created by a generative model from its training data."""
COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = IPTC + "compositeWithTrainedAlgorithmicMedia"
"""IPTC Digital Source Type for a capture with generated parts pasted in (face swaps, paste-backs)."""
CREATED, EDITED = "c2pa.created", "c2pa.edited"
AGENT = {"name": SOFTWARE, "version": __version__}

MIME_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
              ".webp": "image/webp", ".tif": "image/tiff", ".tiff": "image/tiff", ".mp4": "video/mp4",
              ".m4v": "video/mp4", ".mov": "video/quicktime", ".avi": "video/avi", ".wav": "audio/wav",
              ".mp3": "audio/mpeg"}
"""Formats C2PA embeds into (outputs) or records as ingredients (the user's inputs)."""
_SIGNED_OUTPUTS = {".png", ".jpg", ".jpeg", ".gif", ".mp4"}
LOCAL_SIGNER_NAME = "gen_models local test signer"
UNTRUSTED = "signingCredential.untrusted"


class ProvenanceError(GenModelsError):
    """Signing failed (a bad certificate or key); the message names the setting."""


@dataclass(frozen=True)
class Provenance:
    """What a generated file's Content Credentials say: which model made it, how, and from which of the user's files."""

    model: str | None = None
    """The model's catalog name (its licence is looked up there), or a description such as a trained pair's."""
    action: str = CREATED
    """``c2pa.created`` (made from noise or seeds) or ``c2pa.edited`` (made from the user's input)."""
    composite: bool = False
    """Generated parts pasted into a real capture (face swap): IPTC ``compositeWithTrainedAlgorithmicMedia``."""
    inputs: tuple[str, ...] = ()
    """The user's files; the first is the parent of an edit, the others are components."""
    description: str | None = None

    @property
    def source_type(self) -> str:
        return COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA if self.composite else TRAINED_ALGORITHMIC_MEDIA


def created(model: str | None, description: str | None = None) -> Provenance:
    return Provenance(model, CREATED, description=description)


def edited(model: str | None, *inputs: object, composite: bool = False, description: str | None = None) -> Provenance:
    """An edit of the user's ``inputs``: paths are recorded, anything else (bytes, arrays, None) is skipped."""
    files = tuple(str(p) for p in inputs if isinstance(p, (str, os.PathLike)) and Path(p).is_file())
    return Provenance(model, EDITED, composite, files, description)


# --- signing credentials --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    chain: bytes
    key: bytes
    alg: str
    local: bool
    """The install's own test certificate (valid signatures, trusted by no verifier)."""


_local_guard = threading.Lock()


def _local_dir() -> Path:
    return settings.cache_dir() / "c2pa"


def _write_private(path: Path, data: bytes) -> None:
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "wb") as out:
        out.write(data)


def local_credentials() -> Credentials:
    """This install's test signer, made on first use: a local CA and an Ed25519 signer it issued (10 years)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from filelock import FileLock

    folder = _local_dir()
    chain_path, key_path = folder / "local-signer.pem", folder / "local-signer.key"
    with _local_guard:
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder / ".lock")):
            if not (chain_path.is_file() and key_path.is_file()):
                now = datetime.datetime.now(datetime.timezone.utc)
                ca_key, key = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()

                def name(common: str) -> x509.Name:
                    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

                def usage(sign: bool) -> x509.KeyUsage:
                    return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=not sign,
                                         crl_sign=not sign, encipher_only=False, decipher_only=False)

                def cert(subject: str, issuer: str, public, ca: bool) -> x509.CertificateBuilder:
                    return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
                            .public_key(public).serial_number(x509.random_serial_number())
                            .not_valid_before(now - datetime.timedelta(days=1))
                            .not_valid_after(now + datetime.timedelta(days=3650))
                            .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
                            .add_extension(usage(sign=not ca), critical=True)
                            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))

                ca_name = "gen_models local test CA"
                ca_cert = cert(ca_name, ca_name, ca_key.public_key(), True).sign(ca_key, None)
                signer = (cert(LOCAL_SIGNER_NAME, ca_name, key.public_key(), False)
                          .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                          .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                         critical=False)
                          .sign(ca_key, None))
                pem = serialization.Encoding.PEM
                _write_private(key_path, key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
                # the chain holds the signer only (the CA adds 330 bytes to every file and no verifier trusts it)
                (folder / "local-ca.pem").write_bytes(ca_cert.public_bytes(pem))
                chain_path.write_bytes(signer.public_bytes(pem))
    return Credentials(chain_path.read_bytes(), key_path.read_bytes(), "ed25519", local=True)


def _algorithm(key_pem: bytes) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ProvenanceError(f"GEN_MODELS_C2PA_KEY is not an unencrypted PEM private key ({exc})") from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curves = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in curves:
            return curves[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise ProvenanceError("GEN_MODELS_C2PA_KEY must be an Ed25519, P-256/384/521 or RSA key for C2PA")


def credentials() -> Credentials | None:
    """The signer to use: the configured one, else the local test signer; None when GEN_MODELS_C2PA=0."""
    if not settings.c2pa_enabled():
        return None
    cert, key = settings.c2pa_cert(), settings.c2pa_key()
    if cert is None and key is None:
        return local_credentials()
    if cert is None or key is None:
        missing = "GEN_MODELS_C2PA_KEY" if key is None else "GEN_MODELS_C2PA_CERT"
        raise ProvenanceError(f"{missing} is not set: GEN_MODELS_C2PA_CERT and GEN_MODELS_C2PA_KEY go together")
    for variable, path in (("GEN_MODELS_C2PA_CERT", cert), ("GEN_MODELS_C2PA_KEY", key)):
        if not path.is_file():
            raise ProvenanceError(f"{variable} names {path}, which is not a file")
    key_pem = key.read_bytes()
    return Credentials(cert.read_bytes(), key_pem, _algorithm(key_pem), local=False)


def signing_note() -> str:
    """One sentence for the page: whether outputs are signed, and whether a verifier can trust the signer."""
    if not settings.c2pa_enabled():
        return "Content Credentials are off (GEN_MODELS_C2PA=0); files keep their text labels."
    if settings.c2pa_cert() is None and settings.c2pa_key() is None:
        return ("Files carry C2PA Content Credentials signed with this install's local test certificate: tamper-"
                "evident, but unverified (no verifier trusts it; set GEN_MODELS_C2PA_CERT/KEY to sign as yourself).")
    return "Files carry C2PA Content Credentials signed with the certificate in GEN_MODELS_C2PA_CERT."


# --- signing ---------------------------------------------------------------------------------------------------------


def _context():
    import c2pa

    # no thumbnails; reading never fetches anything (remote manifests, OCSP)
    return c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}},
                                   "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})


def _model_licence(model: str | None) -> str | None:
    from gen_models.core.errors import ManifestError
    from gen_models.core.manifest import load_manifest

    try:
        manifest = load_manifest()
    except ManifestError:
        return None
    return manifest[model].license if model and model in manifest else None


def _actions(provenance: Provenance, parent: str | None) -> list[dict]:
    agent = AGENT
    parameters = {key: value for key, value in (("model", provenance.model),
                                                 ("license", _model_licence(provenance.model))) if value}
    action = {"action": provenance.action, "digitalSourceType": provenance.source_type, "softwareAgent": agent}
    if provenance.description:
        action["description"] = provenance.description
    if parameters:
        action["parameters"] = parameters
    if provenance.action != EDITED:
        return [action]
    # C2PA: the first action is created or opened (naming the parent ingredient)
    first = ({"action": "c2pa.opened", "parameters": {"ingredientIds": [parent]}} if parent else
             {"action": CREATED, "digitalSourceType": provenance.source_type, "softwareAgent": agent})
    return [first, action]


def _add_ingredients(builder, provenance: Provenance) -> str | None:
    """Record the user's inputs that C2PA can read; returns the parent's label (None when there is none)."""
    import c2pa

    parent = None
    for index, path in enumerate(provenance.inputs):
        mime = MIME_TYPES.get(Path(path).suffix.lower())
        if mime is None:
            continue
        relationship = "parentOf" if parent is None and provenance.action == EDITED else "componentOf"
        label = f"input-{index}"
        try:
            with open(path, "rb") as stream:
                builder.add_ingredient({"title": Path(path).name, "relationship": relationship, "label": label},
                                       mime, stream)
        except (OSError, c2pa.C2paError):  # an input C2PA cannot parse is simply not recorded
            continue
        if relationship == "parentOf":
            parent = label
    return parent


def sign_file(path: str | os.PathLike, provenance: Provenance, *, title: str | None = None) -> bool:
    """Embed signed Content Credentials into the PNG/JPEG/GIF/MP4 at ``path`` (in place; the file is replaced
    whole). False when signing is off or the format takes none; a ProvenanceError when the configured
    certificate or key cannot sign."""
    import c2pa

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _SIGNED_OUTPUTS:
        suffix = Path(title or "").suffix.lower()
    if suffix not in _SIGNED_OUTPUTS:
        return False
    found = credentials()
    if found is None:
        return False
    mime = MIME_TYPES[suffix]
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg=found.alg.encode(), sign_cert=found.chain,
                                                          private_key=found.key, ta_url=None))
        with (replacing(path) as partial,
              c2pa.Builder({"claim_generator_info": [AGENT], "title": title or path.name}, context=_context()) as builder):
            parent = _add_ingredients(builder, provenance)
            for action in _actions(provenance, parent):
                builder.add_action(action)
            with open(path, "rb") as source, open(partial, "wb") as dest:
                builder.sign(signer, mime, source, dest)
    except c2pa.C2paError as exc:
        which = "the local test certificate" if found.local else "GEN_MODELS_C2PA_CERT / GEN_MODELS_C2PA_KEY"
        raise ProvenanceError(f"could not sign {title or path.name} with {which}: {exc}") from None
    return True


# --- the visible mark --------------------------------------------------------------------------------------------------


def visible_mark(rgb: np.ndarray) -> np.ndarray:
    """The image with "AI-generated" in a dark box in its lower right corner (a copy; sized to the image)."""
    import cv2

    out = np.array(rgb, dtype=np.uint8, copy=True)
    gray = out.ndim == 2
    canvas = np.repeat(out[..., None], 3, axis=2) if gray else out
    h, w = canvas.shape[:2]
    scale = max(0.3, min(h, w) / 640)
    thickness = max(1, round(scale * 1.5))
    (tw, th), base = cv2.getTextSize("AI-generated", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(2, round(4 * scale))
    x0, y0 = max(0, w - tw - 2 * pad), max(0, h - th - base - 2 * pad)
    box = canvas[y0:, x0:]
    box[:] = (box.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darkened, so the text reads on any background
    cv2.putText(canvas, "AI-generated", (x0 + pad, h - pad - base), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thickness, cv2.LINE_AA)
    return canvas[..., 0] if gray else canvas


def marked(frames: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    """Frames with the visible mark when GEN_MODELS_AI_MARK is on, else as they come."""
    if not settings.ai_mark():
        return frames
    return (visible_mark(frame) for frame in frames)


# --- reading -----------------------------------------------------------------------------------------------------------


@dataclass
class Report:
    """What a file says about itself: its C2PA manifest (checked) and its text labels."""

    name: str
    mime: str | None
    manifest: bool = False
    state: str | None = None
    """c2pa's validation state: ``Valid`` (intact, signer untrusted or trusted), ``Trusted``, ``Invalid``."""
    failures: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    source_type: str | None = None
    model: str | None = None
    license: str | None = None
    software: str | None = None
    signer: str | None = None
    ingredients: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.manifest and self.state in ("Valid", "Trusted")

    @property
    def trusted(self) -> bool:
        return self.manifest and self.state == "Trusted"

    @property
    def synthetic(self) -> bool:
        return bool(self.source_type and "AlgorithmicMedia" in self.source_type) or \
            self.labels.get("AI-Generated") == "true" or "AI-generated" in self.labels.get("comment", "")

    def lines(self) -> list[str]:
        out = [f"File: {self.name} ({self.mime or 'unknown format'})"]
        if not self.manifest:
            out.append(f"Content Credentials: none ({self.problem or 'no C2PA manifest in this file'})")
        elif not self.intact:
            changed = [f for f in self.failures if f != UNTRUSTED]
            out.append("Content Credentials: INVALID: the file was changed after it was signed, or the manifest "
                       f"is damaged ({', '.join(changed) or self.state})")
        elif self.trusted:
            out.append(f"Content Credentials: valid, signed by {self.signer} (trusted)")
        else:
            out.append(f"Content Credentials: valid signature, unverified signer ({self.signer}; no trust list "
                       "on this machine names it)")
        if self.manifest:
            kind = (self.source_type or "").rsplit("/", 1)[-1] or "not stated"
            out.append(f"Source type: {kind}")
            out.append(f"Actions: {', '.join(self.actions) or 'none'}")
            if self.model:
                out.append(f"Model: {self.model}" + (f" (licence: {self.license})" if self.license else ""))
            if self.software:
                out.append(f"Software: {self.software}")
            if self.ingredients:
                out.append(f"Ingredients: {', '.join(self.ingredients)}")
        if self.labels:
            shown = "; ".join(f"{k}={v}" for k, v in self.labels.items() if k != "XML:com.adobe.xmp")
            out.append(f"Text labels: {shown}")
        out.append("Verdict: " + ("AI-generated (says so in its metadata)" if self.synthetic else
                                  "no AI-generation label found"))
        return out

    def to_json(self) -> dict:
        data = {k: v for k, v in self.__dict__.items()}
        data.update(intact=self.intact, trusted=self.trusted, synthetic=self.synthetic)
        return data


def _labels(path: Path, mime: str | None) -> dict[str, str]:
    """The text labels older tools write: PNG chunks, a GIF's comment, an MP4's comment."""
    from PIL import Image, UnidentifiedImageError

    try:
        if mime in ("image/png", "image/gif", "image/jpeg"):
            with Image.open(path) as image:
                info = dict(getattr(image, "text", {}) or {})
                if "comment" in image.info:
                    comment = image.info["comment"]
                    info["comment"] = comment.decode(errors="replace") if isinstance(comment, bytes) else comment
                return {str(k): str(v) for k, v in info.items()}
        if mime and mime.startswith("video/"):
            from gen_models.media.video import probe

            comment = probe(path).comment
            return {"comment": comment} if comment else {}
    except (OSError, UnidentifiedImageError, ValueError):
        pass
    return {}


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def read(path: str | os.PathLike, name: str | None = None) -> Report:
    """Read and check the file's Content Credentials and its text labels (never raises for a bad file)."""
    import c2pa

    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise InputError(f"{name}: no such file")
    with open(path, "rb") as stream:
        head = stream.read(16)
    mime = _sniff(head) or MIME_TYPES.get(path.suffix.lower())
    report = Report(name, mime, labels=_labels(path, mime))
    if mime is None:
        report.problem = "not an image or video format C2PA knows"
        return report
    try:
        with open(path, "rb") as stream, c2pa.Reader(mime, stream, context=_context()) as reader:
            active = reader.get_active_manifest() or {}
            report.state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
    except c2pa.C2paError as exc:
        text = str(exc)
        report.problem = ("no C2PA manifest in this file" if "ManifestNotFound" in text or "JUMBF" in text
                          else f"the manifest cannot be read: {text.splitlines()[0]}")
        return report
    report.manifest = True
    report.failures = [f.get("code", "") for f in (results.get("activeManifest") or {}).get("failure", [])]
    for assertion in active.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                report.actions.append(action.get("action", ""))
                report.source_type = action.get("digitalSourceType", report.source_type)
                params = action.get("parameters") or {}
                report.model = params.get("model", report.model)
                report.license = params.get("license", report.license)
    generator = (active.get("claim_generator_info") or [{}])[0]
    report.software = " ".join(str(generator[k]) for k in ("name", "version") if generator.get(k)) or None
    signature = active.get("signature_info") or {}
    report.signer = signature.get("common_name") or signature.get("issuer")
    report.ingredients = [f"{i.get('title', '?')} ({i.get('relationship', '?')})" for i in active.get("ingredients", [])]
    return report


def describe(path: str | os.PathLike) -> str:
    """The report as text, one fact per line (``python -m gen_models provenance FILE``)."""
    return "\n".join(read(path).lines())


def to_json(path: str | os.PathLike) -> str:
    return json.dumps(read(path).to_json(), indent=2)


__all__ = ["COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA", "CREATED", "EDITED", "SOFTWARE", "TRAINED_ALGORITHMIC_MEDIA",
           "Provenance", "ProvenanceError", "Report", "created", "credentials", "describe", "edited", "marked",
           "read", "sign_file", "signing_note", "visible_mark"]
