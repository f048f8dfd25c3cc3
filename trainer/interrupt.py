"""Ctrl-C during training: stop at the next batch boundary instead of wherever the signal lands.

A KeyboardInterrupt raised at an arbitrary point can land inside a library's constructor (a
progress bar, a DataLoader) and leave noise or half-built state behind. Under
:class:`StopOnInterrupt` the first Ctrl-C only sets a flag that the training loop checks after
each step; a second Ctrl-C interrupts at once, as usual.
"""

from __future__ import annotations

import signal
import threading


class StopOnInterrupt:
    """Context manager: SIGINT requests a stop; ``requested`` tells the loop to stop."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def check(self) -> None:
        """Raise KeyboardInterrupt if a stop was requested (call at safe points)."""
        if self.requested:
            raise KeyboardInterrupt
