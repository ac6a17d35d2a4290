"""Test helpers: the in-tree RunPod v2 emulator, started and stopped from Python.

    with Emulator() as emu:
        client_base_url, key = emu.base_url, emu.account_key

The emulator is the `trainpod-emulator` binary (`cargo build -p trainpod-emulator`); it is found
through the ``binary`` argument, then ``$TRAINPOD_EMULATOR``, then ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from types import TracebackType

from trainpod.exceptions import InvalidInputError

#: The account key the emulator accepts.
ACCOUNT_KEY = "rpa_emulator_account_key"


def _find(binary: str | None) -> str:
    found = binary or os.environ.get("TRAINPOD_EMULATOR") or shutil.which("trainpod-emulator")
    if not found or not os.access(found, os.X_OK):
        raise InvalidInputError(
            "the trainpod-emulator binary was not found; build it with "
            "`cargo build -p trainpod-emulator` and set TRAINPOD_EMULATOR to its path"
        )
    return found


class Emulator:
    """A RunPod v2 emulator on a free loopback port, for the lifetime of a ``with`` block."""

    account_key = ACCOUNT_KEY

    def __init__(self, binary: str | None = None) -> None:
        self._binary = _find(binary)
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def start(self) -> Emulator:
        """Start it and wait for its base URL (``http://127.0.0.1:PORT/v2``)."""
        self._process = subprocess.Popen(
            [self._binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise InvalidInputError(f"the emulator did not start (it printed {line!r})")
        self.base_url = line
        return self

    def stop(self) -> None:
        """Stop it: closing its stdin ends it; it is killed if it lingers."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    @property
    def running(self) -> bool:
        """Whether the emulator process is alive."""
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
