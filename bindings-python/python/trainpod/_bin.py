"""The native programs a release wheel carries in ``trainpod/bin/``: the local provider (for now
the ``trainpod-emulator`` binary; the ``trainpod`` command line's ``trainpod local`` once the wheel
carries it). A wheel built from a clone or an sdist carries none; the lookups then answer None and
the callers fall back to ``$TRAINPOD_EMULATOR`` and ``PATH``."""

from __future__ import annotations

import os
from pathlib import Path

#: Where a release wheel puts its programs (docs/packaging.md).
BIN_DIR = Path(__file__).resolve().parent / "bin"


def packaged(name: str) -> str | None:
    """The path of the program ``name`` this package carries, if it carries it executable."""
    path = BIN_DIR / name
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def local_provider(args: list[str]) -> list[str] | None:
    """The command that starts the packaged emulator with the emulator's ``args``: the emulator
    binary itself, or ``trainpod local`` when the wheel carries the command line instead. Both
    take the same arguments, but ``trainpod local`` runs pods unless told not to (it is the
    local provider at a terminal), where the emulator runs them only with ``--run-pods``."""
    emulator = packaged("trainpod-emulator")
    if emulator is not None:
        return [emulator, *args]
    cli = packaged("trainpod")
    if cli is None:
        return None
    return [cli, "local", *([] if "--run-pods" in args else ["--no-pods"]), *args]
