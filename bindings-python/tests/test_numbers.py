"""What a pod sends reaches an app as JSON: a batch whose numbers no binding could carry (an
integer beyond 2^53 - 1, a key given twice, a time far from the app's clock) is refused at
ingest naming the field, a batch number far from the attempt's others is a sequence conflict,
and whatever the store holds, a status or follow update has no integer beyond 2^53 - 1 (a
float instead, as in Node), so that it is JSON a browser reads exactly."""

from __future__ import annotations

import json
import pathlib
import sqlite3
import uuid

import pytest
import trainpod
from sdk_helpers import T0, make, spec
from trainpod.testing import Emulator

MAX = 2**53 - 1
FINAL = (
    f'{{"n":9,"source":"bootstrap","type":"final","stage":"uploading","ts":{T0 + 40},'
    '"data":{"status":"succeeded","exit_code":0}}'
)


def body(job: str, n: int | str, events: str) -> bytes:
    """A batch written as text, so that a test can send what json.dumps would not write."""
    return f'{{"job":"{job}","attempt":1,"batch":{n},"events":[{events}]}}'.encode()


def log(n: int | str, ts: float, data: str) -> str:
    return f'{{"n":{n},"source":"trainer","type":"log","ts":{ts},"data":{data}}}'


def deployed(tp: trainpod.Trainpod, job: str) -> str:
    tp.deploy(tp.plan(spec(job)))
    token = tp.tokens.issue("metrics.write", "user-1", job, ttl_secs=3600, epoch=1).token
    tp.set_now(T0 + 30)
    return f"Bearer {token}"


def no_big_int(value: object) -> None:
    """Every int within what a double holds exactly, at any depth."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        assert abs(value) <= MAX, value
    elif isinstance(value, dict):
        for v in value.values():
            no_big_int(v)
    elif isinstance(value, list | tuple):
        for v in value:
            no_big_int(v)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            no_big_int(getattr(value, name))


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (log(1, T0 + 20, f'{{"step":1,"big":{MAX + 2}}}'), f"data.big is {MAX + 2}"),
        (log(1, T0 + 20, f'{{"m":{{"a":[-{MAX + 2}]}}}}'), f"data.m.a[0] is -{MAX + 2}"),
        (log(1, T0 + 20, '{"step":1e300}'), "data.step is 1e+300"),
        (log(MAX + 2, T0 + 20, "{}"), f"events[0]: n is {MAX + 2}"),
        (log(1, T0 + 20, '{"loss":1,"loss":2}'), 'duplicate key "loss" in data'),
        (log(1, T0 + 20, '{"m":{"k":1,"x":[{"k":1,"k":2}]}}'), 'duplicate key "k" in data.m.x[0]'),
        (log(1, T0 + 3 * 86_400, "{}"), "more than 86400 s ahead of the app's clock"),
        (log(1, 0, "{}"), "events[0].ts is 0.0, more than 691200 s"),
    ],
)
def test_a_batch_no_binding_could_carry_is_refused_naming_the_field(
    emu: Emulator, tmp_path: pathlib.Path, event: str, field: str
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    job = f"refused-{uuid.uuid4().hex[:8]}"
    auth = deployed(tp, job)
    with pytest.raises(trainpod.InvalidInputError) as info:
        tp.ingest_metrics(job, auth, body(job, 1, event))
    assert field in str(info.value)
    # Nothing of it was kept: the first good batch is new.
    out = tp.ingest_metrics(job, auth, body(job, 1, log(1, T0 + 20, '{"step":2}')))
    assert (out.replay, out.step) == (False, 2)


def test_batch_numbers_far_from_the_attempts_others_are_a_sequence_conflict(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    auth = deployed(tp, "window")
    for n in (1, 250, 500):
        assert not tp.ingest_metrics(
            "window", auth, body("window", n, log(n, T0 + 20, "{}"))
        ).replay
    window = 256
    for n in (3, 500 - window, 500 + window + 1, 1 << 40):
        with pytest.raises(trainpod.SequenceConflictError):
            tp.ingest_metrics("window", auth, body("window", n, log(n, T0 + 20, "{}")))
    # A replay stays a replay whatever the window; a little behind is taken.
    assert tp.ingest_metrics("window", auth, body("window", 1, log(1, T0 + 20, "{}"))).replay
    assert not tp.ingest_metrics("window", auth, body("window", 499, log(2, T0 + 20, "{}"))).replay
    # A check-in after other batches: a container started after the attempt ran; it must not
    # run, and the job ends.
    checkin = (
        '{"n":0,"source":"bootstrap","type":"checkin","stage":"init",'
        f'"ts":{T0 + 25},"data":{{"boot":"late"}}}}'
    )
    late = tp.ingest_metrics("window", auth, body("window", 0, checkin))
    assert (late.status, late.terminate_pod) == (409, True)
    assert json.loads(late.body)["run"] is False
    assert (tp.status("window").state, tp.status("window").reason) == (
        "failed",
        "container_restarted",
    )


def test_status_and_follow_stay_json_at_the_edge_and_after_a_refusal(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    auth = deployed(tp, "edge")
    with pytest.raises(trainpod.InvalidInputError):
        tp.ingest_metrics("edge", auth, body("edge", 1, log(1, T0 + 20, f'{{"x":{MAX + 2}}}')))
    # The largest integers a binding carries, and a pace that puts the ETA past 2^53.
    edge = f'{{"step":1,"max_steps":{MAX},"tokens":{MAX},"m":[{{"low":-{MAX}}}],"loss":1.5}}'
    tp.ingest_metrics("edge", auth, body("edge", 1, log(1, T0 + 20, edge)))
    status = tp.status("edge")
    assert (status.total_steps, status.eta_secs) == (MAX, MAX)
    no_big_int(status)
    # A number far from the attempt's others: refused, and its events are never followed.
    with pytest.raises(trainpod.SequenceConflictError):
        tp.ingest_metrics("edge", auth, body("edge", 1000, log(5, T0 + 25, '{"loss":0.1}')))
    tp.ingest_metrics("edge", auth, body("edge", 2, FINAL))
    updates = list(tp.follow("edge"))
    events = [u.event for u in updates if u.event is not None]
    assert [e["n"] for e in events] == [1, 9]
    assert events[0]["data"]["tokens"] == MAX
    for u in updates:
        no_big_int(u)


def test_integers_a_store_kept_beyond_2_53_come_back_as_floats(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    db = tmp_path / "store.db"
    tp = make(trainpod.Trainpod, emu, tmp_path, store=f"sqlite://{db}")
    auth = deployed(tp, "legacy")
    tp.ingest_metrics("legacy", auth, body("legacy", 1, log(1, T0 + 20, '{"step":1}')))
    # Rows as an earlier version could keep them, before ingest refused such integers.
    data = '{"big":18446744073709551615,"low":-9223372036854775808,"deep":[{"x":9007199254740993}]}'
    with sqlite3.connect(db) as conn:
        conn.execute(
            "update trainpod_jobs set step = ?, max_steps = ? where job_id = 'legacy'",
            (2**54, 2**60),
        )
        conn.execute(
            "insert into trainpod_job_events (job_id, attempt, batch, received_at, events)"
            " values ('legacy', 1, 2, 0, ?)",
            (f"[{log(2, T0 + 21, data)}]",),
        )
    status = tp.status("legacy")
    assert status.step == float(2**54) and isinstance(status.step, float)
    assert status.total_steps == float(2**60)
    no_big_int(status)
    tp.ingest_metrics("legacy", auth, body("legacy", 3, FINAL))
    updates = list(tp.follow("legacy"))
    for u in updates:
        no_big_int(u)
    kept = next(u.event for u in updates if u.event is not None and u.event["n"] == 2)
    assert kept["data"] == {"big": 2.0**64, "low": -(2.0**63), "deep": [{"x": 2.0**53}]}
