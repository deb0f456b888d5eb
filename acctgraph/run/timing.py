"""Wall time, CPU time and peak memory of each stage, as recorded in ``run.json``'s ``timing``."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

Progress = Callable[[str], None]


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds() -> tuple[float, float]:
    """User and kernel CPU seconds of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def stage_timing(name: str, start: float, cpu: tuple[float, float]) -> dict[str, Any]:
    """One stage's wall seconds, CPU seconds (user and kernel, all threads) and peak RSS so far."""
    user, system = cpu_seconds()
    return {
        "stage": name,
        "seconds": round(time.perf_counter() - start, 3),
        "cpu_user_seconds": round(user - cpu[0], 2),
        "cpu_system_seconds": round(system - cpu[1], 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


class Stages:
    """Runs named stages, reporting each name to ``progress`` and keeping its :func:`stage_timing`."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.timings: list[dict[str, Any]] = []

    def __call__(self, name: str, fn: Callable[[], Any]) -> Any:
        if self.progress:
            self.progress(name)
        start, cpu = time.perf_counter(), cpu_seconds()
        value = fn()
        self.timings.append(stage_timing(name, start, cpu))
        return value
