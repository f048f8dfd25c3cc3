"""Claiming sweep jobs, so that any number of sweep processes (on one machine, or on several that
share the output folder) train each job once (docs/architecture.md, "Sweeps").

A job is claimed by creating ``OUT/claims/<config_hash>-<seed>.lock`` as a hard link to a file
already holding its holder (host, process id, start time); the link fails when the claim exists
(atomic on local and network file systems alike), and no reader ever sees a half-written claim.
While the job runs, the holder touches the file every :data:`HEARTBEAT_SECONDS`.
A claim is stale, and taken over, when its holder is gone: on the same host its process no
longer exists; on another host its heartbeat is older than :data:`STALE_SECONDS`.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

#: Folder of the claims, inside a sweep's output folder.
CLAIMS_DIR = "claims"
HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 600.0


def claim_path(out: Path, config_hash: str, seed: int | str) -> Path:
    return Path(out) / CLAIMS_DIR / f"{config_hash}-{seed}.lock"


def _holder() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def is_stale(path: Path, now: float | None = None) -> bool:
    """Whether the claim at ``path`` was left by a holder that is gone (see module doc)."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        heartbeat = path.stat().st_mtime
    except FileNotFoundError:
        return False  # released meanwhile: nothing to take over
    except (OSError, ValueError, RecursionError):
        return True  # unreadable: a holder that died while writing it
    if not isinstance(holder, dict):
        return True
    if holder.get("host") == socket.gethostname():
        return not isinstance(holder.get("pid"), int) or not _alive(holder["pid"])
    return (now if now is not None else time.time()) - heartbeat > STALE_SECONDS


def try_claim(path: Path) -> bool:
    """Create the claim at ``path`` for this process; False when a live holder has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The holder is written to a file of this process first and hard-linked into place: the link
    # fails if the claim exists, and a claim is never seen before its holder is in it (a reader
    # would take a half-written claim for a dead holder's and take it over).
    draft = path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.{threading.get_ident()}")
    draft.write_text(json.dumps(_holder()), encoding="utf-8")
    try:
        for _ in range(2):  # a second try after taking over a stale claim
            try:
                os.link(draft, path)
            except FileExistsError:
                if not is_stale(path):
                    return False
                _take_over(path)
                continue
            return True
        return False
    finally:
        draft.unlink(missing_ok=True)


def _take_over(path: Path) -> None:
    """Remove a stale claim; two processes taking it over at once cannot both win, since only one
    of them can then create it again."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@contextlib.contextmanager
def claimed(path: Path) -> Iterator[bool]:
    """Hold the claim at ``path`` for the ``with`` block, with a heartbeat; yields False (and holds
    nothing) when another live process holds it."""
    if not try_claim(path):
        yield False
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(OSError):
                os.utime(path)

    thread = threading.Thread(target=beat, name=f"heartbeat {path.name}", daemon=True)
    thread.start()
    try:
        yield True
    finally:
        stop.set()
        thread.join()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
