"""Log routing: the library's lines (``ct_set_logger``) go to Python's ``logging``.

One callback serves the whole process (the library has one logger). Lines go to
``logging.getLogger("codecarbon")`` while the most recently created tracker is a CodeCarbon-named
one (``EmissionsTracker``, ...), else to ``logging.getLogger("carbon_tracker")``. The callback may
run on the library's background thread; ctypes takes the GIL for it."""

from __future__ import annotations

import atexit
import ctypes
import logging
import threading
from typing import Any, Optional

NATIVE_LOGGER = "carbon_tracker"
CODECARBON_LOGGER = "codecarbon"

# void (*)(void *user_data, ct_log_level level, const char *message)
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)

_lock = threading.Lock()
_route = NATIVE_LOGGER
# The ctypes callback object must outlive every call the library makes to it: kept here for
# the life of the process (set once, never replaced).
_callback: Optional[Any] = None
_lib: Optional[ctypes.CDLL] = None


def python_level(ct_level: int) -> int:
    """ct_log_level numbers are Python's logging numbers; anything else maps to the nearest
    level at or above it (CRITICAL at most)."""
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
        if ct_level <= level:
            return level
    return logging.CRITICAL


def _deliver(_user_data: Any, level: int, message: Optional[bytes]) -> None:
    try:
        text = (message or b"").decode("utf-8", "replace")
        logging.getLogger(_route).log(python_level(level), "%s", text)
    except Exception:  # never let an exception cross back into the library
        pass


def route_to(logger_name: str, lib: ctypes.CDLL) -> None:
    """Sends the library's lines to ``logging.getLogger(logger_name)`` from now on (installs
    the callback on first use)."""
    global _route, _callback, _lib
    with _lock:
        _route = logger_name
        if _callback is None:
            lib.ct_set_logger.argtypes = [LOG_FN, ctypes.c_void_p]
            lib.ct_set_logger.restype = None
            _callback = LOG_FN(_deliver)
            _lib = lib
            lib.ct_set_logger(_callback, None)
            # Back to stderr before the interpreter goes away: a line from the library's thread
            # must not reach a finalised interpreter.
            atexit.register(_restore_stderr)


def _restore_stderr() -> None:
    if _lib is not None:
        _lib.ct_set_logger(LOG_FN(), None)  # NULL: back to stderr


def current_route() -> str:
    return _route
