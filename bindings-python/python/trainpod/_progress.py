"""The progress bar of ``follow(job_id, progress=True)``: tqdm when it is installed, else one
line of text per status change. Updates pass through unchanged."""

from __future__ import annotations

import importlib
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, Protocol

from trainpod._present import _span
from trainpod.types import FollowUpdate, JobStatus


class _Display(Protocol):
    def show(self, status: JobStatus) -> None: ...
    def close(self) -> None: ...


def _postfix(status: JobStatus) -> str:
    steps = "" if status.step is None else f" step {status.step}/{status.total_steps or '?'}"
    loss = "" if status.loss is None else f" loss {status.loss:.4f}"
    if status.eval_loss is not None:
        loss += f" held-out {status.eval_loss:.4f}"
    eta = "" if status.eta_secs is None else f" eta {_span(status.eta_secs)}"
    return f"{status.state}{steps}{loss}{eta} ${status.cost_usd:.4f}"


class _Tqdm:
    def __init__(self, tqdm: Any) -> None:
        self._bar = tqdm(total=100, unit="%", bar_format="{l_bar}{bar}| {postfix}")

    def show(self, status: JobStatus) -> None:
        self._bar.n = round(status.progress * 100, 1)
        self._bar.set_description(status.job_id, refresh=False)
        self._bar.set_postfix_str(_postfix(status))

    def close(self) -> None:
        self._bar.close()


class _Text:
    WIDTH = 24

    def show(self, status: JobStatus) -> None:
        done = round(status.progress * self.WIDTH)
        bar = "#" * done + "-" * (self.WIDTH - done)
        print(f"{status.job_id} [{bar}] {status.progress * 100:3.0f}% {_postfix(status)}")
        sys.stdout.flush()

    def close(self) -> None:
        pass


def _display() -> _Display:
    try:
        tqdm = importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        return _Text()
    return _Tqdm(tqdm)


def bar(updates: Iterable[FollowUpdate]) -> Iterator[FollowUpdate]:
    """Show a progress bar while passing ``updates`` through."""
    display = _display()
    try:
        for update in updates:
            if update.status is not None:
                display.show(update.status)
            yield update
    finally:
        display.close()


async def abar(updates: AsyncIterator[FollowUpdate]) -> AsyncIterator[FollowUpdate]:
    """Show a progress bar while passing async ``updates`` through."""
    display = _display()
    try:
        async for update in updates:
            if update.status is not None:
                display.show(update.status)
            yield update
    finally:
        display.close()
