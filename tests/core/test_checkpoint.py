"""Checkpoint reading never runs pickled code; strict loading names what does not fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from gen_models.core.checkpoint import load_checkpoint, load_strict
from gen_models.core.errors import WeightsIntegrityError


class Boom:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(2), "payload": Boom(str(marker))}, path)
    with pytest.raises(WeightsIntegrityError, match="evil.pth.*refused"):
        load_checkpoint(path)
    assert not marker.exists()


def test_allow_list_admits_named_globals(tmp_path):
    path = tmp_path / "with_slice.pth"
    torch.save({"w": torch.ones(3), "index": slice(0, 2)}, path)
    with pytest.raises(WeightsIntegrityError):
        load_checkpoint(path)
    loaded = load_checkpoint(path, allow=[slice])
    assert loaded["index"] == slice(0, 2) and torch.equal(loaded["w"], torch.ones(3))


def test_int64_buffers_and_safetensors(tmp_path):
    state = {"bn.num_batches_tracked": torch.tensor(7), "conv.weight": torch.randn(2, 2)}
    torch.save(state, tmp_path / "a.pth")
    save_file(state, str(tmp_path / "a.safetensors"))
    for name in ("a.pth", "a.safetensors"):
        loaded = load_checkpoint(tmp_path / name)
        assert loaded["bn.num_batches_tracked"].dtype == torch.int64
        assert torch.equal(loaded["conv.weight"], state["conv.weight"])


def test_truncated_files_are_reported(tmp_path):
    torch.save({"w": torch.randn(1000)}, tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsIntegrityError, match="cut.pth.*truncated or corrupt"):
        load_checkpoint(tmp_path / "cut.pth")
    (tmp_path / "cut.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(WeightsIntegrityError, match="cut.safetensors"):
        load_checkpoint(tmp_path / "cut.safetensors")


def test_load_strict_names_missing_unexpected_and_misshaped_keys():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    good = {k: torch.randn_like(v) for k, v in model.state_dict().items()}
    load_strict(model, good, "good.pth")
    assert torch.equal(model[0].weight, good["0.weight"])

    bad = dict(good)
    del bad["1.bias"]
    bad["2.weight"] = torch.zeros(1)
    bad["0.weight"] = torch.zeros(5, 3)
    with pytest.raises(WeightsIntegrityError) as info:
        load_strict(model, bad, "bad.pth")
    message = str(info.value)
    assert "missing keys: 1.bias" in message and "unexpected keys: 2.weight" in message
    assert "0.weight: file (5, 3) vs model (4, 3)" in message
