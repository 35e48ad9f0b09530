"""Timing helpers shared by the scenarios: best-of-N wall time, rates and a ratio table."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterable

import numpy as np


@dataclass
class Row:
    scenario: str
    name: str
    samples_per_s: float
    note: str = ""


def best_rate(run: Callable[[], int], repeat: int = 3) -> float:
    """Samples per second of the best of ``repeat`` runs; ``run`` returns the samples it produced."""
    best = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = run()
        dt = time.perf_counter() - t0
        best = max(best, n / dt)
    return best


def interleaved_best(runs: dict[str, Callable[[], int]], repeat: int) -> dict[str, float]:
    """Best samples/s of each run over ``repeat`` rounds, the runs taking turns in every round (so
    a busy spell on a shared machine does not fall on one peer only)."""
    best = dict.fromkeys(runs, 0.0)
    for _ in range(repeat):
        for name, run in runs.items():
            t0 = time.perf_counter()
            n = run()
            best[name] = max(best[name], n / (time.perf_counter() - t0))
    return best


def consume(batches: Iterable, limit: int | None = None) -> int:
    """Iterate ``batches`` (up to ``limit`` batches), touching each, and count the samples."""
    n = 0
    for i, b in enumerate(batches):
        if limit is not None and i >= limit:
            break
        first = b[0] if isinstance(b, (tuple, list)) else next(iter(b.values()))
        n += len(first)
    return n


def table(rows: list[Row], reference: str) -> str:
    """A markdown table with each row's rate and its ratio to the ``reference`` row."""
    ref = next(r.samples_per_s for r in rows if r.name == reference)
    out = [f"| {rows[0].scenario} | samples/s | ratio to {reference} | note |", "| --- | ---: | ---: | --- |"]
    for r in rows:
        out.append(f"| {r.name} | {r.samples_per_s:,.0f} | {r.samples_per_s / ref:.2f} | {r.note} |")
    return "\n".join(out)


def save(rows: list[Row], name: str) -> None:
    os.makedirs("bench-results", exist_ok=True)
    meta = {"machine": platform.platform(), "cpus": os.cpu_count(), "numpy": np.__version__}
    with open(os.path.join("bench-results", f"{name}.json"), "w") as f:
        json.dump({"meta": meta, "rows": [asdict(r) for r in rows]}, f, indent=1)
