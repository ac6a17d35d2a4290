"""The blocking API inside a running event loop (a notebook's), from threads, and after
`os.fork`, where the runtime and the SDK's connections are made again in the child."""

from __future__ import annotations

import asyncio
import faulthandler
import json
import os
import pathlib
import select
import signal
import threading
import time
from typing import Any

import pytest
import trainpod
from sdk_helpers import T0, batch, final_events, make, settings, spec, training_events
from trainpod.testing import Emulator


def test_a_job_followed_from_inside_a_running_event_loop(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    """What a notebook cell does: blocking calls while the kernel's loop runs. The loop's
    thread blocks in `follow` with the GIL released, so a thread posts the pod's batches."""
    tp = make(trainpod.Trainpod, emu, tmp_path)

    def pod() -> None:
        time.sleep(0.3)
        for n, events in ((1, training_events()), (2, final_events())):
            auth, body = batch(tp, "loop", 1, n, events)
            tp.ingest_metrics("loop", auth, body)
            time.sleep(0.1)

    async def cell() -> list[trainpod.FollowUpdate]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0.05)
        tp.deploy(tp.plan(spec("loop")))
        tp.set_now(T0 + 30)
        poster = threading.Thread(target=pod)
        poster.start()
        updates = list(tp.follow("loop"))
        poster.join()
        # The loop still runs once the blocking call returns.
        before = ticks
        await asyncio.sleep(0.05)
        assert ticks > before
        ticker.cancel()
        return updates

    updates = asyncio.run(cell())
    assert updates[-1].status is not None and updates[-1].status.state == "succeeded"


def test_blocking_and_awaitable_calls_share_one_loop(emu: Emulator, tmp_path: pathlib.Path) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    atp = make(trainpod.AsyncTrainpod, emu, tmp_path)

    async def main() -> tuple[str, str]:
        plan = tp.plan(spec("mixed"))  # blocking, inside the loop
        other = await atp.plan(spec("mixed-2"))
        return plan.job_id, other.job_id

    assert asyncio.run(main()) == ("mixed", "mixed-2")


def test_awaitable_calls_are_coroutines(emu: Emulator, tmp_path: pathlib.Path) -> None:
    """What asyncio takes only from coroutines: `asyncio.run`, `create_task`, `gather`. A
    call starts when it is first awaited; one never awaited does nothing."""
    atp = make(trainpod.AsyncTrainpod, emu, tmp_path)
    never = atp.plan(spec("never"))
    assert repr(never) == "<trainpod coroutine AsyncTrainpod.plan>"
    never.close()

    plan = asyncio.run(atp.plan(spec("coro")))
    assert plan.job_id == "coro"

    async def main() -> list[str]:
        task = asyncio.create_task(atp.deploy(plan))
        job = await task
        statuses = await asyncio.gather(atp.status("coro"), atp.status("coro"))
        return [job.state, *(s.state for s in statuses)]

    assert asyncio.run(main()) == ["provisioning"] * 3
    with pytest.raises(trainpod.exceptions.NotFoundError):
        asyncio.run(atp.status("never"))


def test_a_coroutine_thrown_into_before_it_starts_never_starts(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    atp = make(trainpod.AsyncTrainpod, emu, tmp_path)
    call = atp.plan(spec("thrown"))
    with pytest.raises(KeyError):
        call.throw(KeyError("stop"))
    with pytest.raises(StopIteration):
        call.send(None)

    async def planned() -> bool:
        try:
            await atp.status("thrown")
        except trainpod.exceptions.NotFoundError:
            return False
        return True

    assert not asyncio.run(planned()), "the thrown-into call made no job"


def test_a_cancelled_call_cancels_its_task(emu: Emulator, tmp_path: pathlib.Path) -> None:
    atp = make(trainpod.AsyncTrainpod, emu, tmp_path)

    async def main() -> None:
        follow = atp.plan(spec("cancelled"))
        task = asyncio.create_task(follow)
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_many_threads_share_one_client(emu: Emulator, tmp_path: pathlib.Path) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    for i in range(4):
        tp.deploy(tp.plan(spec(f"thread-{i}")))
    errors: list[BaseException] = []
    states: list[str] = []

    def work(i: int) -> None:
        try:
            for _ in range(5):
                states.append(tp.status(f"thread-{i % 4}").state)
            tp.plan(spec(f"thread-plan-{i}"))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert states == ["provisioning"] * 40


def in_child(work: Any, timeout: float = 30) -> dict[str, Any]:
    """Run `work()` in a forked child; its JSON result comes back through a pipe."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        # Where it hangs, if it does, goes to stderr before the parent gives up.
        faulthandler.dump_traceback_later(timeout - 5, exit=True)
        try:
            result = {"ok": work()}
        except BaseException as err:
            result = {"error": f"{type(err).__name__}: {err}"}
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], timeout)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read)
        pytest.fail("the forked child hung")
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    return dict(json.loads(data))


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_the_client_works_after_fork(emu: Emulator, tmp_path: pathlib.Path, store: str) -> None:
    url = "memory:" if store == "memory" else f"sqlite://{tmp_path}/jobs.db"
    # Nothing may be in flight in another thread at the fork (as with any fork of a threaded
    # process): follow polls once a minute here, and the fork waits until it sleeps.
    tp = trainpod.Trainpod(**{**settings(emu, tmp_path, url), "follow_interval": 60})
    atp = make(trainpod.AsyncTrainpod, emu, tmp_path, store=url)
    # Connections and the runtime's threads exist in the parent before the fork.
    tp.deploy(tp.plan(spec("fork")))

    async def plan(job: str) -> str:
        return (await atp.plan(spec(job))).job_id

    asyncio.run(plan("fork-async"))
    stale = tp.follow("fork")
    assert next(stale).kind == "status"
    time.sleep(0.3)

    def child() -> list[Any]:
        seen: list[Any] = [tp.status("fork").state, tp.plan(spec("fork-child")).job_id]
        seen.append(asyncio.run(plan("fork-child-async")))
        try:
            next(stale)
        except trainpod.exceptions.InvalidStateError as err:
            seen.append(err.code)
        seen.append(next(tp.follow("fork")).kind)
        return seen

    result = in_child(child)
    assert result == {
        "ok": ["provisioning", "fork-child", "fork-child-async", "INVALID_STATE", "status"]
    }
    # The parent is unaffected.
    assert tp.status("fork").state == "provisioning"
    stale.close()
