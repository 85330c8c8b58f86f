"""Run chunk jobs in worker processes, results in job order, with a bounded number in flight."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

J = TypeVar("J")
R = TypeVar("R")


# Per process: the loaded source layout and the name/address pools, set once by `init_worker`.
STATE: dict[str, Any] = {}


def init_worker(source: Path, pools: Any, encoding: str = "utf-8-sig") -> None:
    """Prepare a (worker) process: load the source layout, keep the pools and the text codec."""
    from midlayout.layout.source import load_source

    STATE["layout"], STATE["pools"] = load_source(source), pools
    STATE["codec"] = "utf-8" if encoding == "utf-8-sig" else encoding


def default_workers(jobs: int) -> int:
    """One worker per CPU, never more than there are jobs."""
    return max(1, min(os.cpu_count() or 1, jobs))


def ordered_map(
    fn: Callable[[J], R],
    jobs: Sequence[J],
    init: Callable[..., None],
    initargs: tuple[Any, ...],
    workers: int | None = None,
) -> Iterator[R]:
    """fn(job) for each job, yielded in job order; in-process when one worker suffices.

    `init(*initargs)` prepares each process. At most two jobs per worker are in flight, so memory stays
    bounded however many chunks there are.
    """
    workers = default_workers(len(jobs)) if workers is None else max(1, min(workers, len(jobs)))
    if workers == 1:
        init(*initargs)
        yield from map(fn, jobs)
        return
    with ProcessPoolExecutor(workers, initializer=init, initargs=initargs) as pool:
        pending: deque[Future[R]] = deque()
        for job in jobs:
            pending.append(pool.submit(fn, job))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@dataclass(frozen=True)
class Job:
    """One chunk of a run: which households to make and whether this chunk carries the traps."""

    seed: int
    chunk: int
    chunk_size: int
    size: int
    traps: bool


def plan(households: int, seed: int, traps: bool, chunk_size: int) -> list[Job]:
    """Chunks of at most `chunk_size` households; the traps live in the first chunk."""
    starts = range(0, households, chunk_size)
    return [
        Job(seed, k, chunk_size, min(chunk_size, households - start), traps and k == 0)
        for k, start in enumerate(starts)
    ]
