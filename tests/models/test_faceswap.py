"""The face-swap autoencoder: shapes and parameter counts as the reference designs specify, strict checkpoints."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from gen_models.core.errors import WeightsIntegrityError
from gen_models.models import faceswap


def _conv(cin: int, cout: int, k: int) -> int:
    return cin * k * k * cout + cout


def _dense(cin: int, cout: int) -> int:
    return cin * cout + cout


def test_original_64_has_the_specified_layers_and_parameter_counts():
    model = faceswap.build(faceswap.Config("original", 64, 1))
    # 4 stride-2 5×5 convs 128/256/512/1024 → Dense(1024) → Dense(4·4·1024) → upscale (3×3 conv to 4×512) to 8×8×512
    encoder = (_conv(3, 128, 5) + _conv(128, 256, 5) + _conv(256, 512, 5) + _conv(512, 1024, 5)
               + _dense(4 * 4 * 1024, 1024) + _dense(1024, 4 * 4 * 1024) + _conv(1024, 4 * 512, 3))
    # upscale blocks 256 → 128 → 64, then a 5×5 conv to RGB
    decoder = _conv(512, 4 * 256, 3) + _conv(256, 4 * 128, 3) + _conv(128, 4 * 64, 3) + _conv(64, 3, 5)
    assert faceswap.parameter_count(model.encoder) == encoder == 69_662_976
    assert faceswap.parameter_count(model.decoder_a) == faceswap.parameter_count(model.decoder_b) == decoder
    with torch.no_grad():
        code = model.encoder(torch.rand(2, 3, 64, 64))
        assert code.shape == (2, 512, 8, 8)
        out = model(torch.rand(2, 3, 64, 64), "a")
    assert out.shape == (2, 3, 64, 64) and 0 <= out.min() and out.max() <= 1  # a sigmoid output


def test_lightweight_has_three_downscales_and_dense_512():
    model = faceswap.build(faceswap.Config("lightweight", 64, 1))
    encoder = (_conv(3, 128, 5) + _conv(128, 256, 5) + _conv(256, 512, 5) + _dense(8 * 8 * 512, 512)
               + _dense(512, 4 * 4 * 512) + _conv(512, 4 * 256, 3))
    assert faceswap.parameter_count(model.encoder) == encoder
    assert [m.conv.out_channels for m in model.encoder.down] == [128, 256, 512]


@pytest.mark.parametrize("layout", faceswap.LAYOUTS)
@pytest.mark.parametrize("size", faceswap.SIZES)
def test_every_layout_and_size_maps_faces_to_faces_and_width_divides_channels(layout, size):
    wide, narrow = faceswap.build(faceswap.Config(layout, size, 1)), faceswap.build(faceswap.Config(layout, size, 8))
    assert [m.conv.out_channels * 8 for m in narrow.encoder.down] == [m.conv.out_channels for m in wide.encoder.down]
    with torch.no_grad():
        for side in ("a", "b"):
            assert narrow(torch.rand(1, 3, size, size), side).shape == (1, 3, size, size)


def test_a_checkpoint_round_trips_strictly_with_its_card(tmp_path):
    model = faceswap.build(faceswap.Config("original", 64, 8))
    path = faceswap.save(model, tmp_path / "pair.safetensors", steps=12, data={"a": {"kept": 5}})
    loaded = faceswap.load(path, faceswap.Config("original", 64, 8))
    assert loaded.card["steps"] == 12 and loaded.card["data"] == {"a": {"kept": 5}}
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])
    with pytest.raises(WeightsIntegrityError, match="catalog expects lightweight"):
        faceswap.load(path, faceswap.Config("lightweight", 64, 8))


def test_wrong_files_are_refused_with_what_is_wrong(tmp_path):
    text = tmp_path / "notes.safetensors"
    text.write_text("hello, not weights")
    with pytest.raises(WeightsIntegrityError, match="notes.safetensors is not a safetensors file"):
        faceswap.load(text)
    plain = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(2)}, str(plain))
    with pytest.raises(WeightsIntegrityError, match="not a face-swap checkpoint"):
        faceswap.load(plain)
    # a card that claims ÷8 over the tensors of a ÷4 model: the strict load names the mis-shaped keys
    wide = faceswap.build(faceswap.Config("original", 64, 4))
    card = {"format": faceswap.FORMAT, "layout": "original", "size": 64, "width": 8}
    lying = tmp_path / "lying.safetensors"
    save_file({k: v.contiguous() for k, v in wide.state_dict().items()}, str(lying),
              metadata={faceswap.CARD_KEY: json.dumps(card)})
    with pytest.raises(WeightsIntegrityError, match="wrong shapes: decoder_a"):
        faceswap.load(lying)
