"""The model stage: the model's files from the Hub into the Hub cache (HF_HOME) before training.

Only what `from_pretrained` reads is fetched: the config and tokenizer files and the safetensors
weights, never the duplicate `.bin`, `.pth`, ONNX or GGUF copies a repository may also hold. The
cache is HF_HOME, which the bootstrap puts on the job's network volume when it has one: a second
job with the same model finds every file there and downloads none. The trainer then loads the
model from the same cache, offline.

Usage: model.py MODEL_ID RESULT_FILE. Writes `key=value` lines to RESULT_FILE: `cache_hit`,
`downloaded_bytes` and `files` on success (exit 0); `cause` on a refusal (exit 3).
"""

import os
import sys
import time
from importlib import metadata, util

# What transformers' from_pretrained opens for a causal LM and its tokenizer.
ALLOW = [
    "*.json",
    "*.safetensors",
    "tokenizer.model",
    "*.tiktoken",
    "*.txt",
    "*.jinja",
]


def fast_transfer() -> str:
    """Turn on the fastest transfer the installed huggingface_hub honours; says which.

    Set before huggingface_hub is imported: it reads them once, at import (constants.py).
    huggingface_hub 1.x downloads through hf_xet, whose high-performance mode is
    HF_XET_HIGH_PERFORMANCE; it no longer uses hf_transfer and warns when
    HF_HUB_ENABLE_HF_TRANSFER is set. Before 1.0, hf_transfer is the fast path when installed.
    """
    os.environ.setdefault("HF_XET_HIGH_PERFORMANCE", "1")
    major = int(metadata.version("huggingface_hub").split(".")[0])
    if major < 1 and util.find_spec("hf_transfer") is not None:
        os.environ.setdefault("HF_HUB_ENABLE_HF_TRANSFER", "1")
        return "hf_transfer"
    return "hf_xet"


def blob_bytes(repo_dir: str) -> int:
    """Bytes in the cache's blobs of one repository (what a download adds)."""
    total = 0
    for root, _, names in os.walk(os.path.join(repo_dir, "blobs")):
        for name in names:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def refusal(error: Exception, model: str) -> str:
    """What the cause says for an error the Hub (or the network) answered with."""
    from huggingface_hub import errors

    name = type(error).__name__
    if isinstance(error, errors.GatedRepoError):
        return (
            f"the model {model} is gated: accept its terms on the Hub and give the pod an "
            f"HF_TOKEN of an account that has ({name})"
        )
    if isinstance(error, errors.RepositoryNotFoundError):
        return (
            f"the Hub has no model {model}, or it is private and the pod's HF_TOKEN may not "
            f"read it ({name})"
        )
    if isinstance(error, errors.RevisionNotFoundError):
        return f"the model {model} has no main revision on the Hub ({name})"
    return f"the model {model} did not download: {name}: {str(error)[:300]}"


def write(path: str, **values: object) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for key, value in values.items():
            # One line each: the bootstrap reads them as data.
            f.write(f"{key}={' '.join(str(value).split())}\n")


def main(model: str, result: str) -> int:
    transfer = fast_transfer()
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.file_download import repo_folder_name

    repo_dir = os.path.join(
        constants.HF_HUB_CACHE, repo_folder_name(repo_id=model, repo_type="model")
    )
    before = blob_bytes(repo_dir)
    started = time.monotonic()
    try:
        path = snapshot_download(model, allow_patterns=ALLOW)
    except Exception as e:  # noqa: BLE001 - every failure becomes the stage's cause
        write(result, cause=refusal(e, model))
        return 3
    downloaded = max(blob_bytes(repo_dir) - before, 0)
    files = sum(len(names) for _, _, names in os.walk(path))
    print(
        f"model {model}: {files} files in {path}; {downloaded} bytes downloaded in "
        f"{time.monotonic() - started:.1f} s ({transfer})",
        flush=True,
    )
    write(result, cache_hit=int(downloaded == 0), downloaded_bytes=downloaded, files=files)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
