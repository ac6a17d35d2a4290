"""Writes a tiny pure-Python wheel, trainpod_probe 1.0, into DIR (for the dependency stage's tests).

Usage: tiny_wheel.py DIR. The module says where it was imported from, so that a test can tell
which environment it went into.
"""

import base64
import hashlib
import pathlib
import sys
import zipfile

NAME, VERSION = "trainpod_probe", "1.0"
FILES = {
    f"{NAME}/__init__.py": "import pathlib\nWHERE = str(pathlib.Path(__file__).resolve().parent)\n",
    f"{NAME}-{VERSION}.dist-info/METADATA": (
        f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n"
    ),
    f"{NAME}-{VERSION}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: trainpod-tests\n"
    "Root-Is-Purelib: true\nTag: py3-none-any\n",
}


def digest(text: str) -> str:
    raw = hashlib.sha256(text.encode()).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def main(out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    record = f"{NAME}-{VERSION}.dist-info/RECORD"
    lines = [f"{path},{digest(text)},{len(text.encode())}" for path, text in FILES.items()]
    lines.append(f"{record},,")
    with zipfile.ZipFile(out / f"{NAME}-{VERSION}-py3-none-any.whl", "w") as z:
        for path, text in FILES.items():
            z.writestr(path, text)
        z.writestr(record, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
