"""A name the user gives a file (``topo gen --name``) is a name, not a path: the one rule every
command that turns a user's name into files in its output folder follows."""

from __future__ import annotations

from common.errors import ParameterError

#: Characters that make a name a path or a different file on some system.
FORBIDDEN = frozenset("/\\:\0")


def checked_file_name(name: str, what: str) -> str:
    """``name`` unchanged when it is a plain file name (no separator, not ``.`` or ``..``, no
    control character, not empty); ParameterError naming ``what`` otherwise."""
    text = str(name)
    bad = sorted({c for c in text if c in FORBIDDEN or ord(c) < 32})
    if not text.strip() or text in (".", "..") or bad:
        why = f"it holds {', '.join(repr(c) for c in bad)}" if bad else "it is empty or a folder name"
        raise ParameterError(f"{what} {text!r} is not a plain file name ({why}); files go into the output folder")
    return text
