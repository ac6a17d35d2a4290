"""What errors and stored fields repeat: a key ring's secret never, what a pod or a caller sent
only escaped and bounded, a pod's free text only as data (a final status's reason is a known code,
its words the cause), and the notebook's HTML shows that text without running it."""

from __future__ import annotations

import base64
import json
import pathlib
import traceback

import pytest
import trainpod
from sdk_helpers import T0, batch, event, make, spec
from trainpod.testing import Emulator

AUD = "https://app.example.com"
# Two random-looking secrets: the one a misordered entry holds, and a good one beside it.
HIDDEN = trainpod.generate_secret()
GOOD = trainpod.generate_secret()


def everything_shown(err: BaseException) -> list[str]:
    return [str(err), repr(err), "".join(traceback.format_exception(err)), *map(str, err.args)]


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (f"k1:{HIDDEN}:active", "the status must be"),
        (f"{HIDDEN}:active:k1", "the key id must be"),
        (f"k1:active:{HIDDEN}!", "not valid base64"),
    ],
)
def test_a_key_ring_written_out_of_order_never_shows_its_secret(entry: str, why: str) -> None:
    with pytest.raises(trainpod.InvalidInputError) as caught:
        trainpod.Tokens(f"k0:active:{GOOD},{entry}", AUD)
    err = caught.value
    assert err.message.startswith("entry 2 of the key ring: "), err.message
    assert why in err.message and "kid:status:secret" in err.message
    for shown in everything_shown(err):
        for piece in (HIDDEN[:8], HIDDEN[17:29], GOOD[:8]):
            assert piece not in shown, shown


def test_a_job_id_a_pod_sent_comes_back_escaped_and_bounded(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    auth, _ = batch(tp, "job-q", 1, 1, [])
    forged = "job-q\nINFO all good\x1b[2J" + "x" * 4000
    body = {"job": forged, "attempt": 1, "batch": 1, "events": [event(1, T0, "heartbeat")]}
    with pytest.raises(trainpod.TrainpodError) as caught:
        tp.ingest_metrics("job-q", auth, json.dumps(body).encode())
    err = caught.value
    assert err.code == "TOKEN_SCOPE_MISMATCH"
    for shown in (str(err), repr(err), err.message):
        assert "\n" not in shown and "\x1b" not in shown, shown
        assert "x" * 100 not in shown
    assert '"job-q\\nINFO all good\\u{1b}[2J' in err.message


def test_a_final_reason_is_a_code_and_the_notebook_shows_the_pods_words_as_text(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    job = tp.deploy(tp.plan(spec("html-1")))
    cause = "<script>alert(1)</script>\x1b[31m broke\x07down\nsecond line"
    final = event(
        1,
        T0 + 5,
        "final",
        stage="training",
        data={
            "status": "failed",
            "reason": "<img src=x onerror=alert(1)>\n\x1b[2J",
            "exit_code": 3,
            "cause_b64": base64.b64encode(cause.encode()).decode(),
            "log_tail_b64": base64.b64encode(b"<b>bold</b>\nlast line").decode(),
        },
    )
    auth, body = batch(tp, job.job_id, 1, 1, [final])
    assert tp.ingest_metrics(job.job_id, auth, body).state == "failed"
    status = tp.status(job.job_id)
    assert status.reason == "unknown"
    assert status.cause == "<script>alert(1)</script> [31m broke down"
    shown = status._repr_html_()
    assert "<script>" not in shown and "<b>bold</b>" not in shown, shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and "&lt;b&gt;bold" in shown
    assert "<b>unknown</b>" in shown


def test_a_plan_with_markup_in_it_renders_as_text(emu: Emulator, tmp_path: pathlib.Path) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    raw = json.loads(tp.plan(spec("html-2"))._raw)
    raw["spec"]["model"] = "<script>alert('model')</script>"
    raw["gpu"]["gpu_id"] = "<img src=x onerror=alert(1)>"
    raw["warnings"] = ["<script>alert('warning')</script>"]
    raw["estimate"]["lines"][0]["phase"] = "<i>phase</i>"
    shown = trainpod.Plan._from(raw)._repr_html_()
    assert "<script>" not in shown and "<img" not in shown and "<i>" not in shown, shown
    assert "&lt;script&gt;alert(&#x27;model&#x27;)" in shown
    assert "&lt;script&gt;alert(&#x27;warning&#x27;)" in shown
