"""The one way every architecture module reads its catalog ``config`` object into its frozen ``Config`` dataclass.

Scalar fields are checked against their annotation (``int``, ``float``, ``bool``, ``str``, optionally ``| None``);
other fields (mappings, tuples) are passed through for the ``Config``'s own ``__post_init__`` to check. Unknown
keys and bad values raise :class:`~gen_models.core.errors.ManifestError` naming the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from gen_models.core.errors import ManifestError

T = TypeVar("T")

_SCALARS: dict[str, Callable[[Any], bool]] = {
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
}


def _check_scalar(arch: str, name: str, annotation: str, value: Any) -> Any:
    options = [part.strip() for part in str(annotation).split("|")]
    if "None" in options and value is None:
        return None
    kinds = [o for o in options if o in _SCALARS]
    if not kinds or len(kinds) != len([o for o in options if o != "None"]):
        return value  # not a plain scalar field: the Config checks it
    if "float" in kinds and _SCALARS["float"](value):
        return float(value)
    if "int" in kinds and isinstance(value, float) and value.is_integer():
        return int(value)
    if any(_SCALARS[k](value) for k in kinds):
        return value
    raise ManifestError(f"{arch} config: {name!r} must be {' or '.join(options)}, got {value!r}")


def config_from_dict(cls: type[T], raw: Mapping[str, Any] | None, arch: str, labels: tuple[str, ...] = ()) -> T:
    """``cls(**raw)`` with every key known and every scalar of the right type; ``labels`` are keys accepted and
    ignored (descriptive only). ``None`` means ``{}``."""
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise ManifestError(f"{arch} config must be an object, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(str(k) for k in raw if k not in fields and k not in labels)
    if unknown:
        known = ", ".join(sorted([*fields, *labels])) or "none"
        raise ManifestError(f"{arch} config: unknown key {unknown[0]!r} (known keys: {known})")
    values = {k: _check_scalar(arch, k, fields[k].type, v) for k, v in raw.items() if k in fields}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"{arch} config: {exc}") from None
