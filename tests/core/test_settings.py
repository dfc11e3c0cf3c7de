"""gen_models.core.settings: one reader per kind of value, one truthy rule, one error naming the variable and value;
README's environment table and settings.VARIABLES name the same variables; nothing else reads GEN_MODELS_*."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gen_models.core import settings
from gen_models.core.errors import GenModelsError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in settings.VARIABLES:
        monkeypatch.delenv(name, raising=False)


def refused(name: str, rule: str, raw: str):
    return pytest.raises(settings.SettingsError, match=re.escape(f"{name} must be {rule}, got {raw!r}"))


# --- one reader per kind ------------------------------------------------------------------------------------------


def test_positive_int(monkeypatch):
    assert settings.max_epochs() == 100 and settings.max_loaded() == 4 and settings.max_pixels() == 50_000_000
    for raw, value in [("7", 7), (" 12 ", 12), ("20_000", 20_000), ("1e6", 1_000_000), ("3.0", 3)]:
        monkeypatch.setenv("GEN_MODELS_MAX_EPOCHS", raw)
        assert settings.max_epochs() == value
    monkeypatch.setenv("GEN_MODELS_MAX_EPOCHS", "   ")
    assert settings.max_epochs() == 100  # empty means the default
    for raw in ["abc", "0", "-3", "2.5", "inf", "nan"]:
        monkeypatch.setenv("GEN_MODELS_MAX_EPOCHS", raw)
        with refused("GEN_MODELS_MAX_EPOCHS", "a whole number ≥ 1", raw):
            settings.max_epochs()


def test_the_message_of_the_brief_and_the_error_class(monkeypatch):
    monkeypatch.setenv("GEN_MODELS_MAX_EPOCHS", "abc")
    with pytest.raises(GenModelsError) as info:
        settings.max_epochs()
    assert str(info.value) == "GEN_MODELS_MAX_EPOCHS must be a whole number ≥ 1, got 'abc'"
    assert isinstance(info.value, ValueError)  # callers that caught the old ValueError still do


def test_values_are_read_at_call_time(monkeypatch):
    monkeypatch.setenv("GEN_MODELS_MAX_QUEUE", "5")
    assert settings.max_queue() == 5
    monkeypatch.setenv("GEN_MODELS_MAX_QUEUE", "6")
    assert settings.max_queue() == 6


def test_non_negative_float(monkeypatch):
    assert settings.hub_retry_seconds() == 300.0
    for raw, value in [("0", 0.0), ("2.5", 2.5), ("1e3", 1000.0)]:
        monkeypatch.setenv("GEN_MODELS_HUB_RETRY_SECONDS", raw)
        assert settings.hub_retry_seconds() == value
    for raw in ["soon", "-1", "inf"]:
        monkeypatch.setenv("GEN_MODELS_HUB_RETRY_SECONDS", raw)
        with refused("GEN_MODELS_HUB_RETRY_SECONDS", "a number ≥ 0", raw):
            settings.hub_retry_seconds()


def test_positive_float(monkeypatch):
    assert settings.max_video_seconds() == 60.0
    monkeypatch.setenv("GEN_MODELS_MAX_VIDEO_SECONDS", "12.5")
    assert settings.max_video_seconds() == 12.5
    for raw in ["0", "-5", "long"]:
        monkeypatch.setenv("GEN_MODELS_MAX_VIDEO_SECONDS", raw)
        with refused("GEN_MODELS_MAX_VIDEO_SECONDS", "a number > 0", raw):
            settings.max_video_seconds()


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "Yes", "on", " On "])
def test_truthy_words(monkeypatch, raw):
    monkeypatch.setenv("GEN_MODELS_HALF", raw)
    assert settings.half_enabled() is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "NO", "off"])
def test_falsy_words(monkeypatch, raw):
    monkeypatch.setenv("GEN_MODELS_HALF", raw)
    assert settings.half_enabled() is False


@pytest.mark.parametrize("raw", ["2", "t", "y", "enabled", "nope"])
def test_other_words_are_not_booleans(monkeypatch, raw):
    assert settings.half_enabled() is True  # the default
    monkeypatch.setenv("GEN_MODELS_HALF", raw)
    with refused("GEN_MODELS_HALF", "one of 1, true, yes, on or 0, false, no, off", raw):
        settings.half_enabled()


def test_paths(monkeypatch, tmp_path):
    assert settings.weights_dir() is None and settings.output_dir() is None
    assert settings.manifest_path() is None  # unset: the repo's weights_manifest.json
    assert settings.cache_dir() == Path.home() / ".cache" / "gen_models"
    monkeypatch.setenv("GEN_MODELS_WEIGHTS_DIR", str(tmp_path / "not-yet"))
    assert settings.weights_dir() == tmp_path / "not-yet"  # need not exist
    monkeypatch.setenv("GEN_MODELS_CACHE", "~/elsewhere")
    assert settings.cache_dir() == Path.home() / "elsewhere"
    catalog = tmp_path / "manifest.json"
    catalog.write_text("{}")
    monkeypatch.setenv("GEN_MODELS_MANIFEST", str(catalog))
    assert settings.manifest_path() == catalog
    monkeypatch.setenv("GEN_MODELS_OUTPUT_DIR", str(catalog))
    with refused("GEN_MODELS_OUTPUT_DIR", "a folder", str(catalog)):
        settings.output_dir()
    monkeypatch.setenv("GEN_MODELS_MANIFEST", str(tmp_path))
    with refused("GEN_MODELS_MANIFEST", "a file", str(tmp_path)):
        settings.manifest_path()


def test_choice(monkeypatch):
    assert settings.device() is None
    for raw, value in [("cpu", "cpu"), ("CUDA", "cuda"), ("cuda:1", "cuda:1"), ("mps", "mps"), ("auto", None)]:
        monkeypatch.setenv("GEN_MODELS_DEVICE", raw)
        assert settings.device() == value
    for raw in ["toaster", "cuda:x", "gpu"]:
        monkeypatch.setenv("GEN_MODELS_DEVICE", raw)
        with refused("GEN_MODELS_DEVICE", "one of auto, cpu, cuda, mps, cuda:N", raw):
            settings.device()


def test_every_documented_variable_has_a_reader_and_check_all_reports_bad_ones(monkeypatch):
    assert settings.check_all() == []
    monkeypatch.setenv("GEN_MODELS_MAX_SIDE", "big")
    monkeypatch.setenv("GEN_MODELS_HALF", "maybe")
    problems = settings.check_all()
    assert len(problems) == 2 and any("GEN_MODELS_MAX_SIDE" in p for p in problems)
    with pytest.raises(KeyError):
        settings.positive_int("GEN_MODELS_UNDOCUMENTED")
    assert set(settings.READERS) == set(settings.VARIABLES)


# --- README and the rest of the source ----------------------------------------------------------------------------


def test_readme_table_names_exactly_the_variables():
    rows = [line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("| `GEN_MODELS_")]
    named = []
    for row in rows:
        first = row.split("|")[1].strip()
        names = [part.strip().strip("`") for part in first.split(", ")]
        assert all(re.fullmatch(r"GEN_MODELS_[A-Z0-9_]+", n) for n in names), row
        assert "default" in row, f"README row does not give the default: {row}"
        named += names
    assert len(named) == len(set(named)), "a variable is in README's table twice"
    assert set(named) == set(settings.VARIABLES)


_READ = re.compile(r"(?:environ\s*(?:\.\s*(?:get|pop|setdefault)\s*\(|\[)|getenv\s*\()\s*([^,)\]]*)")


def test_no_other_module_reads_gen_models_variables():
    offenders = []
    assert _READ.search('os.environ.get("GEN_MODELS_X")') and _READ.search("os.getenv(NAME)")
    for file in sorted([*(ROOT / "gen_models").rglob("*.py"), *(ROOT / "webui").rglob("*.py")]):
        if file == ROOT / "gen_models" / "core" / "settings.py":
            continue
        text = file.read_text(encoding="utf-8")
        where = file.relative_to(ROOT)
        for number, line in enumerate(text.splitlines(), 1):
            if re.search(r"environ|getenv", line) and "GEN_MODELS_" in line and not line.lstrip().startswith("#"):
                offenders.append(f"{where}:{number}: {line.strip()}")
        for match in _READ.finditer(text):
            key = match.group(1).strip()
            # every other read names its variable literally, and none is one of ours
            if not re.fullmatch(r"""(['"])[A-Z][A-Z0-9_]*\1""", key) or key.strip("'\"").startswith("GEN_MODELS_"):
                offenders.append(f"{where}: os.environ read of {key!r}")
    assert not offenders, "GEN_MODELS_* must be read through gen_models.core.settings:\n" + "\n".join(offenders)
