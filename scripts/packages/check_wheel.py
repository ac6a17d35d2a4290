"""Run inside a fresh venv that has the trainpod wheel installed, and nothing of this repository
on its path: imports the package, starts the local provider the wheel carries through
``trainpod.testing`` (no ``$TRAINPOD_EMULATOR``, no binary on ``PATH``) and plans a job on it.

usage: python check_wheel.py WORK_DIR
"""

import pathlib
import sys

import trainpod
from trainpod import _bin
from trainpod.testing import ACCOUNT_KEY, Emulator

CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}'


def main(work: pathlib.Path) -> int:
    installed = pathlib.Path(trainpod.__file__).resolve().parent
    if pathlib.Path(sys.prefix).resolve() not in installed.parents:
        sys.exit(f"trainpod was imported from {installed}, not from the venv at {sys.prefix}")
    provider = _bin.local_provider([])
    if provider is None or installed not in pathlib.Path(provider[0]).parents:
        sys.exit(f"the wheel carries no local provider in {installed}/bin (found {provider})")
    datasets = work / "datasets"
    datasets.mkdir(parents=True, exist_ok=True)
    (datasets / "chat").write_text("\n".join([CHAT] * 50) + "\n")
    with Emulator(args=["--run-pods"]) as emu:
        tp = trainpod.Trainpod(
            local_provider=(emu.base_url, ACCOUNT_KEY),
            app_url="http://127.0.0.1:9",
            signing_keys=f"k1:active:{trainpod.generate_secret()}",
            store="memory:",
            datasets_dir=datasets,
            ignore_env=True,
        )
        plan = tp.plan(
            trainpod.JobSpec(
                user="check", model="Qwen/Qwen2.5-0.5B", dataset="chat", budget_usd=2.0
            )
        )
        served = [r["uri"] for r in emu.requests()]
    if not 0 < plan.estimate.usd_low <= plan.estimate.usd_high:
        sys.exit(f"the plan's estimate is not a range: {plan.estimate}")
    if not any(uri.startswith("/v2/") for uri in served):
        sys.exit(f"the plan asked the local provider nothing: {served}")
    print(
        f"wheel: plan on the packaged local provider ({provider[0]}): {plan.gpu.gpu_id}, "
        f"${plan.estimate.usd_low:.4f}-{plan.estimate.usd_high:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1])))
