"""Memory of forked worker processes over 3 epochs of a 1,000,000-row inventory.

An inventory source keeps one row per sample: a file path and a label. Kept as NumPy columns
(fixed-width strings, int64), forked workers read them without writing to the pages they share
with the main process, so their private memory stays flat epoch after epoch. Kept as Python
objects (a column of ``str``, as ``pandas.read_csv`` gives), every row a worker touches has its
reference count written, which copies the page into the worker (copy-on-access): private memory
grows until the worker holds its own copy of the whole column.

The "decoder" here is synthetic (a cheap function of the path's length and the label), so the run
measures the inventory, not image decoding. Reports, per worker and at the end of each epoch, RSS,
USS (private: memory the worker alone holds) and PSS (its share of everything), from
``/proc/<pid>/smaps_rollup`` (Linux).

Usage: ``python -m benchmarks.memory_rss [rows]``.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

import ladle
from ladle.sources.base import Field, Source

BATCH = 1000


class Inventory(Source):
    """Paths and labels; ``read`` touches each requested path (as a file loader would)."""

    def __init__(self, paths: np.ndarray, labels: np.ndarray):
        self.paths, self.labels = paths, labels

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def fields(self):
        return {"size": Field(np.dtype(np.int64), ()), "label": Field(np.dtype(np.int64), ())}

    def read(self, indices: np.ndarray) -> dict:
        paths = self.paths[indices]
        sizes = np.fromiter((len(p) for p in paths.tolist()), np.int64, len(indices))
        return {"size": sizes * 7 + self.labels[indices], "label": self.labels[indices]}


def make_inventory(n: int, objects: bool) -> Inventory:
    ids = np.arange(n)
    labels = (ids * 7919) % 1000
    if objects:
        paths = np.empty(n, dtype=object)
        paths[:] = [f"images/class{c:03d}/img_{i:07d}.png" for i, c in zip(ids.tolist(),
                                                                          labels.tolist())]
    else:
        paths = np.char.add(np.char.add("images/class", np.char.zfill(labels.astype("U3"), 3)),
                            np.char.add("/img_", np.char.zfill(ids.astype("U7"), 7)))
        paths = np.char.add(paths, ".png")
    return Inventory(paths, labels)


def memory(pid: int) -> dict[str, float]:
    """RSS, PSS and USS (private) of a process in MB."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return {"rss": fields.get("Rss", 0) / 1024, "pss": fields.get("Pss", 0) / 1024,
            "uss": uss / 1024}


def measure(n: int, objects: bool, epochs: int = 3) -> list[list[dict[str, float]]]:
    """Per epoch (0 = right after start), per worker: memory figures."""
    source = make_inventory(n, objects)
    out = []
    with ladle.Loader(source, BATCH, shuffle=True, seed=0, workers=2, backend="process",
                      epochs=1) as loader:
        pids = loader.executor.pids
        time.sleep(0.2)
        out.append([memory(p) for p in pids])
        for _ in range(epochs):
            for _ in loader:
                pass
            out.append([memory(p) for p in pids])
    return out


def main(n: int = 1_000_000) -> list[str]:
    lines = [(f"| inventory of {n:,} rows, 2 forked workers | epoch | worker RSS MB "
              "| worker USS (private) MB | worker PSS MB |"), "| --- | ---: | ---: | ---: | ---: |"]
    rows = []
    for objects, name in ((False, "NumPy columns (fixed-width str)"),
                          (True, "Python str objects (object column)")):
        for epoch, per_worker in enumerate(measure(n, objects)):
            cells = [" / ".join(f"{w[key]:.1f}" for w in per_worker) for key in ("rss", "uss", "pss")]
            label = "after start" if epoch == 0 else f"after epoch {epoch}"
            lines.append(f"| {name} | {label} | {' | '.join(cells)} |")
            rows.append({"layout": name, "epoch": epoch, "workers": per_worker})
    os.makedirs("bench-results", exist_ok=True)
    import json

    with open(os.path.join("bench-results", "memory_rss.json"), "w") as f:
        json.dump({"rows": rows}, f, indent=1)
    return ["\n".join(lines)]


if __name__ == "__main__":
    for text in main(*(int(a) for a in sys.argv[1:2])):
        print(text)
