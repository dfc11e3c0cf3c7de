"""glibc's allocator, set for networks on a CPU: big buffers reused from the heap instead of mapped on every call.

By default glibc serves every allocation above its mmap threshold (at most 32 MB) with a fresh ``mmap`` and gives
it back with ``munmap`` when it is freed. A 256² FOMM or TPSMM frame allocates and frees dozens of such activations,
so each call pays for mapping, zero-filling (page faults) and unmapping them again: on a 2-core CPU that was 0.1 s
of system time per FOMM frame at batch 1 and 0.27 s at batch 4 (TPSMM 0.36 / 0.83 s), with 50k–360k minor page
faults per frame. With mapping off (``M_MMAP_MAX`` 0) and freed memory kept up to 1 GiB (``M_TRIM_THRESHOLD``) the
same buffers are reused: system time drops to a few ms per frame and the frame loop gets 20–35 % faster, for a
peak about 10 % higher (measured: ``benchmarks/talking_heads.py``). ``GEN_MODELS_MALLOC_TUNING=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)
KEEP_FREED = 1 << 30

_state: bool | None = None  # None: not tried yet
_guard = threading.Lock()


def tune() -> bool:
    """Apply the settings once per process (glibc on Linux only); whether they are in effect."""
    global _state
    if _state is not None:
        return _state
    with _guard:
        if _state is None:
            _state = _apply()
    return _state


def _apply() -> bool:
    from gen_models.core import settings

    if not sys.platform.startswith("linux") or not settings.malloc_tuning():
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, KEEP_FREED) == 1
