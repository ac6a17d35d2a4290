"""The programs a release wheel carries in trainpod/bin/: ``trainpod.testing`` starts the packaged
local provider when neither the ``binary`` argument nor ``$TRAINPOD_EMULATOR`` names one, as the
emulator itself or as ``trainpod local``; the ``trainpod`` console script runs the packaged
command line. scripts/packages.sh checks the same from a real wheel in a fresh venv."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import trainpod
from trainpod import _bin, _cli
from trainpod.testing import Emulator


@pytest.fixture
def emulator_binary() -> str:
    found = os.environ.get("TRAINPOD_EMULATOR") or shutil.which("trainpod-emulator")
    assert found, "set TRAINPOD_EMULATOR to the built trainpod-emulator"
    return found


@pytest.fixture
def bin_dir(
    emulator_binary: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> pathlib.Path:
    """An empty trainpod/bin/ in place of the package's, and no $TRAINPOD_EMULATOR (read
    first, by ``emulator_binary``)."""
    monkeypatch.setattr(_bin, "BIN_DIR", tmp_path)
    monkeypatch.delenv("TRAINPOD_EMULATOR", raising=False)
    return tmp_path


def executable(path: pathlib.Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def test_the_packaged_emulator_is_started(bin_dir: pathlib.Path, emulator_binary: str) -> None:
    shutil.copy(emulator_binary, bin_dir / "trainpod-emulator")
    with Emulator() as emu:
        assert emu.running
        pid = emu._process.pid if emu._process else 0
        assert pathlib.Path(f"/proc/{pid}/exe").resolve() == bin_dir / "trainpod-emulator"


def test_the_packaged_command_line_serves_as_trainpod_local(
    bin_dir: pathlib.Path, emulator_binary: str
) -> None:
    # The real command line (built beside the emulator): `trainpod local` runs pods unless told
    # not to, where the emulator runs them only with --run-pods.
    command_line = pathlib.Path(emulator_binary).with_name("trainpod")
    assert command_line.is_file(), f"build the command line: {command_line} is missing"
    shutil.copy(command_line, bin_dir / "trainpod")
    cli = str(bin_dir / "trainpod")
    assert _bin.local_provider([]) == [cli, "local", "--no-pods"]
    assert _bin.local_provider(["--run-pods"]) == [cli, "local", "--run-pods"]
    with Emulator() as emu:
        assert emu.running and emu.base_url.startswith("http://127.0.0.1:")
        pid = emu._process.pid if emu._process else 0
        assert pathlib.Path(f"/proc/{pid}/exe").resolve() == bin_dir / "trainpod"
    with Emulator(args=["--run-pods"]) as emu:
        assert emu.running


def test_the_argument_and_the_variable_come_before_the_package(
    bin_dir: pathlib.Path, emulator_binary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    executable(bin_dir / "trainpod-emulator", "#!/bin/sh\nexit 3\n")
    monkeypatch.setenv("TRAINPOD_EMULATOR", emulator_binary)
    with Emulator() as emu:
        assert emu.running
    monkeypatch.delenv("TRAINPOD_EMULATOR")
    with Emulator(binary=emulator_binary) as emu:
        assert emu.running


def test_no_packaged_program_and_none_on_path_says_how_to_get_one(
    bin_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(trainpod.InvalidInputError, match="cargo build -p trainpod-emulator"):
        Emulator()


def test_the_console_script_runs_the_packaged_command_line(bin_dir: pathlib.Path) -> None:
    executable(bin_dir / "trainpod", '#!/bin/sh\necho "cli $*"\nexit 7\n')
    # In a process of its own: the console script replaces its process with the binary.
    script = (
        "import pathlib, sys, trainpod._bin as b, trainpod._cli as c\n"
        "b.BIN_DIR = pathlib.Path(sys.argv.pop(1))\n"
        "c.main()\n"
    )
    argv = [sys.executable, "-c", script, str(bin_dir), "doctor", "--runpod"]
    run = subprocess.run(argv, capture_output=True, text=True)
    assert (run.returncode, run.stdout) == (7, "cli doctor --runpod\n")


def test_the_console_script_without_a_command_line_says_so(bin_dir: pathlib.Path) -> None:
    with pytest.raises(SystemExit, match="carries no `trainpod` command-line binary"):
        _cli.main()
