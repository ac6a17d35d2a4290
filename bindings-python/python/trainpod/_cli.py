"""The ``trainpod`` console script: runs the ``trainpod`` command-line binary the wheel carries
(``trainpod/bin/trainpod``), with the same arguments, in place of this Python process."""

from __future__ import annotations

import os
import sys

from trainpod._bin import packaged


def main() -> None:
    cli = packaged("trainpod")
    if cli is None:
        sys.exit(
            "trainpod: this copy of the package carries no `trainpod` command-line binary "
            "(a wheel built from a clone or an sdist has none); install a release wheel "
            "(`pip install trainpod`) or build it with `cargo build -p trainpod-cli`"
        )
    os.execv(cli, [cli, *sys.argv[1:]])


if __name__ == "__main__":
    main()
