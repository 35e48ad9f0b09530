"""S5: scenario S1 (in-memory X float32 200,000×3×32×32 + int64 labels, batch 256, shuffled)
through the framework adapters.

torch: ``to_torch(Loader)`` vs torch's default ``DataLoader(TensorDataset, batch_size=256,
shuffle=True)`` (the issue's target: >= 3× that), plus ``DataLoader(TorchDataset, num_workers=2)``.
keras: ``to_keras(Loader)`` and a :class:`ladle.keras.Sequence` subclass vs a hand-written
``keras.utils.PyDataset`` (``x[perm[i*bs:(i+1)*bs]]``), each read batch by batch as ``fit`` does.

Run ``python -m benchmarks s5_adapters``; ``main(n=20_000)`` for a quick run.
"""

from __future__ import annotations

import math
import os

import numpy as np

import ladle

from .common import Row, best_rate, consume, save, table


def _torch_rows(x: np.ndarray, y: np.ndarray, bs: int, repeat: int,
                torch_batches: int) -> list[Row]:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from ladle.adapters.torch import TorchDataset, to_torch

    name = "S1 via torch"
    rows = []
    dl = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=bs,
                    shuffle=True)
    rate = best_rate(lambda: consume(dl, torch_batches), 1)
    rows.append(Row(name, "torch DataLoader (default)", rate, f"first {torch_batches} batches"))
    for workers in (0, 2):
        loader = ladle.Loader({"x": x, "y": y}, batch_size=bs, shuffle=True, seed=1,
                              workers=workers)
        batches = to_torch(loader)
        label = "to_torch(Loader)" + (f" workers={workers} threads" if workers else "")
        rows.append(Row(name, label, best_rate(lambda: consume(batches), repeat)))
        loader.close()
    ds = TorchDataset(ladle.Loader({"x": x, "y": y}, batch_size=bs, shuffle=True, seed=1))
    dl2 = DataLoader(ds, batch_size=None, num_workers=2, persistent_workers=True)
    rows.append(Row(name, "DataLoader(TorchDataset, num_workers=2)",
                    best_rate(lambda: consume(dl2), max(repeat, 2)),
                    "persistent worker processes; batches cross through shared memory"))
    return rows


def _keras_rows(x: np.ndarray, y: np.ndarray, bs: int, repeat: int) -> list[Row]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    from ladle.adapters.keras import to_keras
    from ladle.keras import Sequence

    class HandWritten(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(1)
            self.perm = self.rng.permutation(len(x))

        def __len__(self):
            return math.ceil(len(x) / bs)

        def __getitem__(self, i):
            idx = self.perm[i * bs:(i + 1) * bs]
            return x[idx], y[idx]

        def on_epoch_end(self):
            self.perm = self.rng.permutation(len(x))

    class Subclass(Sequence):
        def get_batch(self, indices):
            return x[indices], y[indices]

    def epoch(ds):
        def run():
            out = consume(ds[i] for i in range(len(ds)))
            ds.on_epoch_end()
            return out
        return run

    name = "S1 via keras"
    loader = ladle.Loader({"x": x, "y": y}, batch_size=bs, shuffle=True, seed=1)
    return [
        Row(name, "hand-written keras PyDataset", best_rate(epoch(HandWritten()), repeat)),
        Row(name, "to_keras(Loader)", best_rate(epoch(to_keras(loader)), repeat)),
        Row(name, "ladle.keras.Sequence subclass", best_rate(epoch(Subclass(len(x), bs, seed=1)),
                                                             repeat)),
    ]


def main(n: int = 200_000, batch_size: int = 256, repeat: int = 3,
         torch_batches: int = 150) -> list[str]:
    rng = np.random.default_rng(0)
    x = rng.random((n, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, n)
    out = []
    try:
        rows = _torch_rows(x, y, batch_size, repeat, torch_batches)
        save(rows, "S5_torch")
        out.append(table(rows, "torch DataLoader (default)"))
    except ImportError as exc:
        out.append(f"S1 via torch: skipped ({exc})")
    try:
        rows = _keras_rows(x, y, batch_size, repeat)
        save(rows, "S5_keras")
        out.append(table(rows, "hand-written keras PyDataset"))
    except ImportError as exc:
        out.append(f"S1 via keras: skipped ({exc})")
    return out


if __name__ == "__main__":
    for text in main(n=20_000):
        print(text, end="\n\n")
