"""CodeCarbon's one-run-at-a-time lock (``allow_multiple_runs=False``): the file
``<temp dir>/.codecarbon.lock`` (``tempfile.gettempdir()``, the same path as CodeCarbon's, so
the two refuse each other too), created exclusively when the tracker is made and removed at its
``stop()`` or when the program exits. A tracker that finds it taken logs an error and measures
nothing.

Unlike CodeCarbon, the user's Ctrl+C handling is left alone (Python runs the exit hook after a
``KeyboardInterrupt``); a SIGTERM handler is added only where none is set, and it removes the file
and then dies of SIGTERM as the program would have."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import tempfile
import threading
from typing import Any

_log = logging.getLogger("codecarbon")


def lock_path() -> str:
    return os.path.join(tempfile.gettempdir(), ".codecarbon.lock")


class RunLock:
    def __init__(self) -> None:
        self.path = lock_path()
        self._held = False
        self._mutex = threading.Lock()

    def acquire(self) -> bool:
        """Takes the lock; False (logged) when another run holds it."""
        with self._mutex:
            try:
                with open(self.path, "x"):
                    pass
            except FileExistsError:
                _log.error(
                    f"Error: Another instance of codecarbon is probably running as we find `{self.path}`. Turn off the "
                    "other instance to be able to run this one or use `allow_multiple_runs` or delete the file. Exiting."
                )
                return False
            self._held = True
        atexit.register(self.release)
        self._release_on_sigterm()
        return True

    def release(self) -> None:
        with self._mutex:
            if not self._held:
                return
            self._held = False
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
            except OSError as e:
                _log.debug(f"could not remove {self.path}: {e}")

    def _release_on_sigterm(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # the program's own handler decides; the exit hook still runs if it exits

        def on_sigterm(signum: int, frame: Any) -> None:
            self.release()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

        signal.signal(signal.SIGTERM, on_sigterm)
