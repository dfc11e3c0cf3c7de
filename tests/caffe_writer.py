"""Test-side writer of Caffe ``.caffemodel`` files, independent of gen_models' reader (raw protobuf wire format).

``agenet_caffemodel`` reproduces the layout of the released ``age_net.caffemodel``: a TRAIN-phase net saved by a
2015 Caffe, in the old ``layers`` (V1LayerParameter, field 2) form with enum layer types, the training-time extras
(data/transform params, blobs_lr, weight_decay, fillers) and blobs sized by num/channels/height/width: conv weights
(96, 3, 7, 7), biases (1, 1, 1, N), inner-product weights (1, 1, N, K), packed float data. ``layout="v2"`` writes the
same weights in the current form (``layer``, field 100, string types, BlobShape). Field numbers: BVLC/caffe
src/caffe/proto/caffe.proto @ 9b89154.
"""

from __future__ import annotations

import struct

import numpy as np

# V1LayerParameter.LayerType values (caffe.proto)
V1_TYPES = {"DATA": 5, "CONVOLUTION": 4, "RELU": 18, "POOLING": 17, "LRN": 15, "INNER_PRODUCT": 14,
            "DROPOUT": 6, "SOFTMAX_LOSS": 21, "SOFTMAX": 20}
V2_TYPES = {"DATA": "Data", "CONVOLUTION": "Convolution", "RELU": "ReLU", "POOLING": "Pooling", "LRN": "LRN",
            "INNER_PRODUCT": "InnerProduct", "DROPOUT": "Dropout", "SOFTMAX_LOSS": "SoftmaxWithLoss",
            "SOFTMAX": "Softmax"}

DEPLOY_PROTOTXT = """name: "CaffeNet"
input: "data"
input_dim: 1
input_dim: 3
input_dim: 227
input_dim: 227
layers { name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1"
  convolution_param { num_output: 96 kernel_size: 7 stride: 4 } }
layers { name: "relu1" type: RELU bottom: "conv1" top: "conv1" }
layers { name: "pool1" type: POOLING bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layers { name: "norm1" type: LRN bottom: "pool1" top: "norm1" lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 } }
layers { name: "conv2" type: CONVOLUTION bottom: "norm1" top: "conv2"
  convolution_param { num_output: 256 pad: 2 kernel_size: 5 } }
layers { name: "relu2" type: RELU bottom: "conv2" top: "conv2" }
layers { name: "pool2" type: POOLING bottom: "conv2" top: "pool2" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layers { name: "norm2" type: LRN bottom: "pool2" top: "norm2" lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 } }
layers { name: "conv3" type: CONVOLUTION bottom: "norm2" top: "conv3"
  convolution_param { num_output: 384 pad: 1 kernel_size: 3 } }
layers { name: "relu3" type: RELU bottom: "conv3" top: "conv3" }
layers { name: "pool5" type: POOLING bottom: "conv3" top: "pool5" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layers { name: "fc6" type: INNER_PRODUCT bottom: "pool5" top: "fc6" inner_product_param { num_output: 512 } }
layers { name: "relu6" type: RELU bottom: "fc6" top: "fc6" }
layers { name: "drop6" type: DROPOUT bottom: "fc6" top: "fc6" dropout_param { dropout_ratio: 0.5 } }
layers { name: "fc7" type: INNER_PRODUCT bottom: "fc6" top: "fc7" inner_product_param { num_output: 512 } }
layers { name: "relu7" type: RELU bottom: "fc7" top: "fc7" }
layers { name: "drop7" type: DROPOUT bottom: "fc7" top: "fc7" dropout_param { dropout_ratio: 0.5 } }
layers { name: "fc8" type: INNER_PRODUCT bottom: "fc7" top: "fc8" inner_product_param { num_output: 8 } }
layers { name: "prob" type: SOFTMAX bottom: "fc8" top: "prob" }
"""
"""GilLevi/AgeGenderDeepLearning age_net_definitions/deploy.prototxt @ 2d591d4: same layers and values, compacted."""


def varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def f_varint(field: int, n: int) -> bytes:
    return key(field, 0) + varint(n)


def f_bytes(field: int, payload: bytes | str) -> bytes:
    payload = payload.encode() if isinstance(payload, str) else payload
    return key(field, 2) + varint(len(payload)) + payload


def f_float(field: int, x: float) -> bytes:
    return key(field, 5) + struct.pack("<f", x)


def blob_v1(array: np.ndarray, dims4: tuple[int, int, int, int]) -> bytes:
    """BlobProto with the deprecated num/channels/height/width (1-4) and packed data (5)."""
    head = b"".join(f_varint(i + 1, d) for i, d in enumerate(dims4))
    return head + f_bytes(5, np.ascontiguousarray(array, dtype="<f4").tobytes())


def blob_v2(array: np.ndarray) -> bytes:
    """BlobProto with shape (7: BlobShape, dim = 1 packed int64) and packed data (5)."""
    shape = f_bytes(1, b"".join(varint(d) for d in array.shape))
    return f_bytes(7, shape) + f_bytes(5, np.ascontiguousarray(array, dtype="<f4").tobytes())


def _filler(kind: str, number: float) -> bytes:
    return f_bytes(1, kind) + f_float(2 if kind == "constant" else 6, number)


# layer parameter messages: V1LayerParameter field, LayerParameter field
PARAM_FIELDS = {"CONVOLUTION": (10, 106), "INNER_PRODUCT": (17, 117), "POOLING": (19, 121), "LRN": (18, 118),
                "DROPOUT": (12, 108), "DATA": (11, 107)}
TRANSFORM_FIELDS, INCLUDE_FIELDS = (36, 100), (32, 8)


def _params(kind: str, spec: dict, v: int) -> bytes:
    """The layer's parameter messages as Caffe saved them with the training net (``v`` 0 = V1, 1 = V2 numbering)."""
    if kind == "CONVOLUTION":
        body = f_varint(1, spec["out"]) + (f_varint(3, spec["pad"]) if spec.get("pad") else b"")
        body += f_varint(4, spec["k"]) + (f_varint(6, spec["stride"]) if spec.get("stride") else b"")
        body += f_bytes(7, _filler("gaussian", 0.01)) + f_bytes(8, _filler("constant", 0.0))
    elif kind == "INNER_PRODUCT":
        body = f_varint(1, spec["out"]) + f_bytes(3, _filler("gaussian", 0.005)) + f_bytes(4, _filler("constant", 1))
    elif kind == "POOLING":
        body = f_varint(1, 0) + f_varint(2, 3) + f_varint(3, 2)
    elif kind == "LRN":
        body = f_varint(1, 5) + f_float(2, 1e-4) + f_float(3, 0.75)
    elif kind == "DROPOUT":
        body = f_float(1, 0.5)
    elif kind == "DATA":
        body = f_bytes(1, "/home/ubuntu/AdienceFaces/lmdb/Test_fold_is_0/age_train_lmdb") + f_varint(4, 50)
        body += f_varint(8, 1)  # backend: LMDB
        transform = f_varint(3, 227) + f_varint(2, 1)
        transform += f_bytes(4, "/home/ubuntu/AdienceFaces/mean_image/Test_folder_is_0/mean.binaryproto")
        extra = f_bytes(TRANSFORM_FIELDS[v], transform) + f_bytes(INCLUDE_FIELDS[v], f_varint(1, 0))  # phase: TRAIN
        return f_bytes(PARAM_FIELDS[kind][v], body) + extra
    else:
        return b""
    return f_bytes(PARAM_FIELDS[kind][v], body)


# the TRAIN-phase net of age_net_definitions/train_val_test_fold_is_*.prototxt: 20 layers, no prob, no accuracy
TRAIN_NET = [
    ("data", "DATA", [], ["data", "label"], {}),
    ("conv1", "CONVOLUTION", ["data"], ["conv1"], {"out": 96, "k": 7, "stride": 4}),
    ("relu1", "RELU", ["conv1"], ["conv1"], {}),
    ("pool1", "POOLING", ["conv1"], ["pool1"], {}),
    ("norm1", "LRN", ["pool1"], ["norm1"], {}),
    ("conv2", "CONVOLUTION", ["norm1"], ["conv2"], {"out": 256, "k": 5, "pad": 2}),
    ("relu2", "RELU", ["conv2"], ["conv2"], {}),
    ("pool2", "POOLING", ["conv2"], ["pool2"], {}),
    ("norm2", "LRN", ["pool2"], ["norm2"], {}),
    ("conv3", "CONVOLUTION", ["norm2"], ["conv3"], {"out": 384, "k": 3, "pad": 1}),
    ("relu3", "RELU", ["conv3"], ["conv3"], {}),
    ("pool5", "POOLING", ["conv3"], ["pool5"], {}),
    ("fc6", "INNER_PRODUCT", ["pool5"], ["fc6"], {"out": 512}),
    ("relu6", "RELU", ["fc6"], ["fc6"], {}),
    ("drop6", "DROPOUT", ["fc6"], ["fc6"], {}),
    ("fc7", "INNER_PRODUCT", ["fc6"], ["fc7"], {"out": 512}),
    ("relu7", "RELU", ["fc7"], ["fc7"], {}),
    ("drop7", "DROPOUT", ["fc7"], ["fc7"], {}),
    ("fc8", "INNER_PRODUCT", ["fc7"], ["fc8"], {"out": 8}),
    ("loss", "SOFTMAX_LOSS", ["fc8", "label"], ["loss"], {}),
]

PARAM_SHAPES = {
    "conv1": (96, 3, 7, 7),
    "conv2": (256, 96, 5, 5),
    "conv3": (384, 256, 3, 3),
    "fc6": (512, 384 * 7 * 7),
    "fc7": (512, 512),
    "fc8": (8, 512),
}


def random_agenet_weights(seed: int = 0, fc8_gain: float = 1.0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """He-scaled random weights (so activations neither vanish nor explode); fc8 × ``fc8_gain`` sharpens the softmax."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in PARAM_SHAPES.items():
        fan_in = int(np.prod(shape[1:]))
        w = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        b = rng.standard_normal(shape[0], dtype=np.float32) * np.float32(0.1)
        if name == "fc8":
            w, b = w * np.float32(fc8_gain), b * np.float32(fc8_gain)
        weights[name] = (w, b)
    return weights


def _v1_dims(name: str, array: np.ndarray, is_bias: bool) -> tuple[int, int, int, int]:
    if is_bias:
        return (1, 1, 1, array.shape[0])
    if name.startswith("fc"):
        return (1, 1, *array.shape)
    return tuple(array.shape)


def agenet_caffemodel(weights: dict[str, tuple[np.ndarray, np.ndarray]], layout: str = "v1") -> bytes:
    """A serialized NetParameter holding ``weights`` in the released file's layout (``v1``) or the current one."""
    parts = [f_bytes(1, "CaffeNet")]
    for name, kind, bottoms, tops, spec in TRAIN_NET:
        blobs = weights.get(name, ())
        if layout == "v1":
            body = b"".join(f_bytes(2, b) for b in bottoms) + b"".join(f_bytes(3, t) for t in tops)
            body += f_bytes(4, name) + f_varint(5, V1_TYPES[kind])
            body += b"".join(f_bytes(6, blob_v1(a, _v1_dims(name, a, i == 1))) for i, a in enumerate(blobs))
            if blobs:  # blobs_lr (7) and weight_decay (8): repeated float, not packed in proto2
                body += f_float(7, 1) + f_float(7, 2) + f_float(8, 1) + f_float(8, 0)
            parts.append(f_bytes(2, body + _params(kind, spec, 0)))
        else:
            body = f_bytes(1, name) + f_bytes(2, V2_TYPES[kind])
            body += b"".join(f_bytes(3, b) for b in bottoms) + b"".join(f_bytes(4, t) for t in tops)
            body += b"".join(f_bytes(7, blob_v2(a)) for a in blobs)
            parts.append(f_bytes(100, body + _params(kind, spec, 1)))
    return b"".join(parts)

