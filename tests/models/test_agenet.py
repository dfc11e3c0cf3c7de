"""AgeNet: the Caffe reader against files written in the released layout, and the network against OpenCV's Caffe
importer (an independent implementation) on the same random weights and inputs."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
from caffe_writer import (
    DEPLOY_PROTOTXT,
    TRAIN_NET,
    agenet_caffemodel,
    blob_v1,
    f_bytes,
    f_float,
    f_varint,
    key,
    random_agenet_weights,
    varint,
)

from gen_models.core.errors import InputError, WeightsIntegrityError
from gen_models.models.agenet import (
    AGE_BUCKETS,
    BUCKET_MIDPOINTS,
    MEAN_BGR,
    PARAM_COUNT,
    AgeNet,
    caffe_to_state_dict,
    expected_age,
    from_manifest,
    load_agenet,
    preprocess,
    preprocess_batch,
    read_caffemodel,
)

RELEASED_SIZE = 45_661_480  # bytes of the real age_net.caffemodel (sha256 6dde5d07…)
# He-scaled random weights on pixel-scale input give logits of ±50 (a one-hot softmax, which would hide errors);
# scaling fc8 down to ±3 leaves probabilities spread over several buckets, so comparing them means something.
FC8_GAIN = 0.05


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("agenet")
    weights = random_agenet_weights(seed=0, fc8_gain=FC8_GAIN)
    files = {}
    for layout in ("v1", "v2"):
        files[layout] = folder / f"age_net_{layout}.caffemodel"
        files[layout].write_bytes(agenet_caffemodel(weights, layout))
    prototxt = folder / "deploy.prototxt"
    prototxt.write_text(DEPLOY_PROTOTXT)
    return {"weights": weights, "v1": files["v1"], "v2": files["v2"], "prototxt": prototxt, "folder": folder}


@pytest.fixture(scope="module")
def model(ckpt):
    return load_agenet(ckpt["v1"])


@pytest.fixture(scope="module")
def cv_net(ckpt):
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2, "dnn") or not hasattr(cv2.dnn, "readNetFromCaffe"):
        pytest.skip("this OpenCV build has no cv2.dnn.readNetFromCaffe")
    return cv2.dnn.readNetFromCaffe(str(ckpt["prototxt"]), str(ckpt["v1"]))


def random_face(seed: int, shape=(150, 130, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def cv_blob(face_rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.dnn.blobFromImage(np.ascontiguousarray(face_rgb[:, :, ::-1]), 1.0, (227, 227), MEAN_BGR, swapRB=False)


def test_released_layout_is_read_layer_by_layer(ckpt):
    assert abs(ckpt["v1"].stat().st_size - RELEASED_SIZE) < 1000  # the writer reproduces the real file's layout
    blobs = read_caffemodel(ckpt["v1"])
    assert list(blobs) == [layer[0] for layer in TRAIN_NET]  # 20 layers: data … fc8, loss
    assert [name for name, found in blobs.items() if found] == ["conv1", "conv2", "conv3", "fc6", "fc7", "fc8"]
    assert blobs["conv1"][0].shape == (96, 3, 7, 7) and blobs["conv1"][1].shape == (1, 1, 1, 96)
    assert blobs["fc6"][0].shape == (1, 1, 512, 18816) and blobs["fc8"][1].shape == (1, 1, 1, 8)
    assert sum(a.size for found in blobs.values() for a in found) == PARAM_COUNT == 11_415_048
    np.testing.assert_array_equal(blobs["fc7"][0][0, 0], ckpt["weights"]["fc7"][0])


def test_both_layouts_give_the_same_state_dict(ckpt):
    old = caffe_to_state_dict(read_caffemodel(ckpt["v1"]))
    new = caffe_to_state_dict(read_caffemodel(ckpt["v2"]))
    net = AgeNet()
    assert sorted(old) == sorted(new) == sorted(net.state_dict())
    for name, tensor in old.items():
        assert tensor.dtype == torch.float32 and torch.equal(tensor, new[name]), name
        layer, kind = name.split(".")
        np.testing.assert_array_equal(tensor.numpy(), ckpt["weights"][layer][kind == "bias"])
    assert sum(t.numel() for t in old.values()) == PARAM_COUNT == sum(p.numel() for p in net.parameters())
    net.load_state_dict(old, strict=True)


def test_probabilities_match_opencv_on_the_same_blob(model, cv_net):
    blob = cv_blob(random_face(1))
    cv_net.setInput(blob)
    reference, reference_logits = cv_net.forward(["prob", "fc8"])
    with torch.no_grad():
        logits = model(torch.from_numpy(blob))
        probs = model.probabilities(torch.from_numpy(blob)).numpy()
    reference = reference.reshape(1, 8)
    assert 0.3 < reference.max() < 0.99 and (reference > 1e-3).sum() >= 4  # spread out, so the check is meaningful
    np.testing.assert_allclose(probs, reference, rtol=0, atol=1e-4)
    np.testing.assert_allclose(logits.numpy(), reference_logits.reshape(1, 8), rtol=0, atol=1e-3)
    assert abs(probs.sum() - 1) < 1e-5 and not model.training


def test_preprocess_matches_blob_from_image(cv_net):
    face = random_face(2)
    ours, theirs = preprocess(face).numpy(), cv_blob(face)
    assert ours.shape == theirs.shape == (1, 3, 227, 227) and ours.dtype == np.float32
    # same bilinear sampling; cv2 resizes uint8 in fixed point, so some values differ by one grey level
    difference = np.abs(ours - theirs)
    assert difference.max() <= 1.0 + 1e-4 and difference.mean() < 0.2
    exact = random_face(3, (227, 227, 3))  # no resize: only the channel swap and the means
    np.testing.assert_allclose(preprocess(exact).numpy(), cv_blob(exact), rtol=0, atol=1e-4)
    batch = preprocess_batch([face, exact])
    assert torch.equal(batch[0], preprocess(face)[0]) and torch.equal(batch[1], preprocess(exact)[0])


def test_end_to_end_against_opencv(model, cv_net):
    face = random_face(4)
    cv_net.setInput(cv_blob(face))
    reference = cv_net.forward().reshape(1, 8)
    with torch.no_grad():
        probs = model.probabilities(preprocess(face)).numpy()
    # the ±1 grey-level resize differences move the probabilities by ~3e-3 at most on these weights
    np.testing.assert_allclose(probs, reference, rtol=0, atol=1e-2)
    assert probs.argmax() == reference.argmax()


def test_truncated_or_foreign_files_are_refused(ckpt, tmp_path):
    data = ckpt["v1"].read_bytes()
    cut = tmp_path / "age_net.caffemodel"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsIntegrityError, match=r"age_net.caffemodel is not a valid Caffe model file \(truncated"):
        load_agenet(cut)
    for name, content in {"empty.caffemodel": b"", "zip.caffemodel": b"PK\x03\x04" + bytes(60)}.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(WeightsIntegrityError, match=f"{name} is not a valid Caffe model file"):
            read_caffemodel(tmp_path / name)


def test_wrong_shapes_name_the_layer(ckpt, tmp_path):
    blobs = read_caffemodel(ckpt["v2"])
    grouped = dict(blobs, conv2=[np.zeros((256, 48, 5, 5), np.float32), blobs["conv2"][1]])  # AlexNet's group 2
    message = r"layer 'conv2' weight has shape \(256, 48, 5, 5\), expected \(256, 96, 5, 5\)"
    with pytest.raises(WeightsIntegrityError, match=message):
        caffe_to_state_dict(grouped)
    with pytest.raises(WeightsIntegrityError, match=r"layer 'fc7' has 0 weight blobs, expected 2"):
        caffe_to_state_dict({k: v for k, v in blobs.items() if k != "fc7"})
    with pytest.raises(WeightsIntegrityError, match="layers AgeNet does not have: conv4"):
        caffe_to_state_dict(dict(blobs, conv4=blobs["conv3"]))

    gender = dict(ckpt["weights"], fc8=(np.ones((2, 512), np.float32), np.ones(2, np.float32)))  # gender_net's head
    path = tmp_path / "gender_net.caffemodel"
    path.write_bytes(agenet_caffemodel(gender))
    message = r"gender_net.caffemodel: layer 'fc8' weight has shape \(1, 1, 2, 512\), expected \(8, 512\)"
    with pytest.raises(WeightsIntegrityError, match=message):
        load_agenet(path)
    assert load_agenet(path, num_classes=2).fc8.out_features == 2


def test_wire_reader_accepts_unpacked_data_double_data_v0_layers_and_unknown_fields(tmp_path):
    values = np.arange(6, dtype=np.float32) / 4
    unpacked = b"".join(f_float(5, float(v)) for v in values)
    blob_shape_unpacked = f_bytes(7, f_varint(1, 2) + f_varint(1, 3))
    doubles = f_bytes(8, struct.pack("<3d", 1.5, -2.0, 3.25)) + f_bytes(7, f_bytes(1, varint(3)))
    unknown = key(999, 1) + struct.pack("<d", 7.0) + key(998, 5) + b"\0\0\0\0" + f_varint(997, 300) + f_bytes(996, b"x")
    v2 = f_bytes(1, "a") + f_bytes(2, "InnerProduct") + unknown + f_bytes(7, unknown + blob_shape_unpacked + unpacked)
    v2 += f_bytes(7, doubles)
    both = blob_v1(values, (1, 1, 2, 3)) + f_bytes(7, f_bytes(1, varint(6)))  # Caffe: legacy dims win over shape
    v0 = f_bytes(1, "b") + f_bytes(2, "conv") + f_bytes(50, both)
    path = tmp_path / "odd.caffemodel"
    path.write_bytes(unknown + f_bytes(100, v2) + f_bytes(2, f_bytes(1, v0) + f_varint(5, 4)))
    blobs = read_caffemodel(path)
    assert list(blobs) == ["a", "b"]
    np.testing.assert_array_equal(blobs["a"][0], values.reshape(2, 3))
    np.testing.assert_array_equal(blobs["a"][1], np.array([1.5, -2.0, 3.25], np.float32))
    assert blobs["a"][1].dtype == np.float32
    np.testing.assert_array_equal(blobs["b"][0], values.reshape(1, 1, 2, 3))

    wrong_count = f_bytes(100, f_bytes(1, "c") + f_bytes(7, blob_shape_unpacked + f_bytes(5, bytes(8))))
    path.write_bytes(wrong_count)
    with pytest.raises(WeightsIntegrityError, match=r"not a valid Caffe model file .*blob of shape \(2, 3\) holds 2"):
        read_caffemodel(path)


def test_safetensors_and_registry_loader(ckpt, model, tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "agenet.safetensors"
    save_file(model.state_dict(), str(path))
    again = from_manifest(path, {"num_classes": 8}, torch.device("cpu"))
    x = preprocess(random_face(5))
    with torch.no_grad():
        assert torch.equal(again(x), model(x)) and not again.training
    save_file({k: v for k, v in model.state_dict().items() if k != "fc8.bias"}, str(path))
    with pytest.raises(WeightsIntegrityError, match="missing keys: fc8.bias"):
        load_agenet(path)


def test_inputs_and_buckets(model):
    with pytest.raises(InputError):
        preprocess(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(InputError, match=r"\(10, 10, 2\)"):
        preprocess(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(InputError):
        preprocess_batch([])
    with pytest.raises(InputError, match=r"\(N, 3, 227, 227\)"):
        model(torch.zeros(1, 3, 224, 224))
    gray, rgba = random_face(6, (40, 30)), random_face(7, (40, 30, 4))
    assert torch.equal(preprocess(gray), preprocess(np.stack([gray] * 3, axis=2)))
    assert torch.equal(preprocess(rgba), preprocess(rgba[:, :, :3]))
    assert len(AGE_BUCKETS) == len(BUCKET_MIDPOINTS) == 8
    assert list(BUCKET_MIDPOINTS) == sorted(BUCKET_MIDPOINTS)
    assert expected_age(torch.eye(8)).tolist() == list(BUCKET_MIDPOINTS)
