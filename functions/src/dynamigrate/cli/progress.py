"""Progress bars for long CLI work (rich), shared by the commands and the rehearsal."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console


def progress_bar(console: Console, *, disable: bool = False) -> Progress:
    """Description, bar, done/total, items/s, elapsed, ETA; vanishes when done."""
    return Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=disable,
    )


def rate_advancer(
    progress: Progress, task: TaskID, extra: Callable[[float], str] | None = None
) -> Callable[[int], None]:
    """A thread-safe ``advance(count)`` that also shows the running items/s (and ``extra(elapsed)``)."""
    started = time.monotonic()
    lock = threading.Lock()
    done = [0]

    def advance(count: int) -> None:
        with lock:
            done[0] += count
            elapsed = max(time.monotonic() - started, 1e-6)
            rate = f"{done[0] / elapsed:,.0f} items/s"
        if extra is not None:
            rate += f"  {extra(elapsed)}"
        progress.update(task, advance=count, rate=rate)

    return advance
