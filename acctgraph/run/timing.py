"""Wall time, CPU time and peak memory of each stage, as recorded in ``run.json``'s ``timing``.

``peak_rss_mb`` is the process's peak so far (``getrusage``), so it only ever
grows; ``stage_peak_rss_mb`` is the peak *during* the stage, sampled from
``/proc/self/statm`` every :data:`SAMPLE_SECONDS` by a background thread (the
kernel's high-water mark is not reset: a parent measuring this process's peak
still sees the true one). Where ``/proc`` is absent the stage peak is omitted.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable
from typing import Any

SAMPLE_SECONDS = 0.05
_STATM = "/proc/self/statm"
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024.0 * 1024.0) if hasattr(os, "sysconf") else 0.0


def current_rss_mb() -> float | None:
    """The process's resident memory now, in MiB (None where ``/proc`` is absent)."""
    try:
        with open(_STATM, encoding="ascii") as handle:
            return int(handle.read().split()[1]) * _PAGE_MB
    except (OSError, ValueError, IndexError):
        return None


class PeakSampler:
    """Samples the resident memory in a daemon thread; :attr:`peak_mb` is the largest seen.

    Examples
    --------
    >>> with PeakSampler() as sampler:
    ...     block = bytearray(32 * 1024 * 1024)
    >>> sampler.peak_mb is None or sampler.peak_mb >= 32
    True
    """

    def __init__(self, every: float = SAMPLE_SECONDS) -> None:
        self.every = every
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="acctgraph-rss", daemon=True)

    def _sample(self) -> None:
        now = current_rss_mb()
        if now is not None and (self.peak_mb is None or now > self.peak_mb):
            self.peak_mb = now

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self) -> PeakSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


Progress = Callable[[str], None]


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds() -> tuple[float, float]:
    """User and kernel CPU seconds of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def stage_timing(
    name: str, start: float, cpu: tuple[float, float], *, stage_peak_mb: float | None = None
) -> dict[str, Any]:
    """One stage's wall seconds, CPU seconds (user and kernel, all threads), peak RSS so far
    and, when sampled, the peak RSS during the stage."""
    user, system = cpu_seconds()
    timing = {
        "stage": name,
        "seconds": round(time.perf_counter() - start, 3),
        "cpu_user_seconds": round(user - cpu[0], 2),
        "cpu_system_seconds": round(system - cpu[1], 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    if stage_peak_mb is not None:
        timing["stage_peak_rss_mb"] = round(stage_peak_mb, 1)
    return timing


def timed(name: str, fn: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    """Run ``fn``; return its value and its :func:`stage_timing` (with the stage's own peak)."""
    start, cpu = time.perf_counter(), cpu_seconds()
    with PeakSampler() as sampler:
        value = fn()
    return value, stage_timing(name, start, cpu, stage_peak_mb=sampler.peak_mb)


class Stages:
    """Runs named stages, reporting each name to ``progress`` and keeping its :func:`stage_timing`."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.timings: list[dict[str, Any]] = []

    def __call__(self, name: str, fn: Callable[[], Any]) -> Any:
        if self.progress:
            self.progress(name)
        value, timing = timed(name, fn)
        self.timings.append(timing)
        return value
