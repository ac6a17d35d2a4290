"""Dependency checks for the pod bootstrap: is the pinned stack installed; which torch to keep."""

import sys
from importlib import metadata

KEEP = ("torch", "torchvision", "torchaudio")


def check(requirements: str) -> int:
    """Exit 0 when every `name==version` line is installed at exactly that version."""
    missing = []
    with open(requirements, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, _, version = line.partition("==")
            try:
                have = metadata.version(name)
            except metadata.PackageNotFoundError:
                have = None
            if have is None or (version and have != version):
                missing.append(f"{line} (installed: {have})")
    for m in missing:
        print(f"needs {m}")
    return 1 if missing else 0


def constraints() -> int:
    """Print `torch==<installed>` (and its siblings) so pip can never replace the image's torch."""
    for name in KEEP:
        try:
            print(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["check"]:
        sys.exit(check(sys.argv[2]))
    sys.exit(constraints())
