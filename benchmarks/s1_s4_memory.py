"""S1 and S4: in-memory arrays, shuffled every epoch.

S1: X float32 200,000×3×32×32 + int64 labels, batch 256. Peers: a NumPy ``X[idx]`` loop,
``np.take(..., out=)`` into a reused buffer (the limit), torch ``DataLoader(TensorDataset)``.
S4: X float32 1,000,000×8, batch 32 (per-batch overhead), same peers.
"""

from __future__ import annotations

import numpy as np

import ladle

from .common import Row, best_rate, consume, save, table


def numpy_loop(x, y, bs, seed):
    def run():
        perm = np.random.default_rng(seed).permutation(len(x))
        n = 0
        for s in range(0, len(x), bs):
            idx = perm[s:s + bs]
            xb, _ = x[idx], y[idx]
            n += len(xb)
        return n
    return run


def take_limit(x, y, bs, seed):
    bx = np.empty((bs,) + x.shape[1:], x.dtype)
    by = np.empty(bs, y.dtype)

    def run():
        perm = np.random.default_rng(seed).permutation(len(x))
        n = 0
        for s in range(0, len(x) - bs + 1, bs):
            idx = perm[s:s + bs]
            # mode="clip": with the default mode="raise", NumPy buffers every take into `out`
            # (an extra copy), which would make this "limit" slower than a plain gather.
            np.take(x, idx, axis=0, out=bx, mode="clip")
            np.take(y, idx, axis=0, out=by, mode="clip")
            n += bs
        return n
    return run


def ladle_run(x, y, bs, seed, **kw):
    loader = ladle.Loader({"x": x, "y": y}, batch_size=bs, shuffle=True, seed=seed, **kw)

    def run():
        return consume(loader)
    return run, loader


def torch_run(x, y, bs, limit):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    dl = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=bs,
                    shuffle=True)

    def run():
        return consume(dl, limit)
    return run


def scenario(name: str, n: int, shape: tuple, bs: int, torch_batches: int, repeat: int):
    rng = np.random.default_rng(0)
    x = rng.random((n,) + shape, dtype=np.float32)
    y = rng.integers(0, 10, n)
    rows = [
        Row(name, "np.take(out=) limit", best_rate(take_limit(x, y, bs, 1), repeat)),
        Row(name, "numpy X[idx] loop", best_rate(numpy_loop(x, y, bs, 1), repeat)),
    ]
    run, _ = ladle_run(x, y, bs, 1)
    rows.append(Row(name, "ladle Loader", best_rate(run, repeat)))
    if name == "S1":
        run, loader = ladle_run(x, y, bs, 1, workers=2)
        rows.append(Row(name, "ladle Loader workers=2 threads", best_rate(run, repeat)))
        loader.close()
    try:
        rows.append(Row(name, "torch DataLoader (default)",
                        best_rate(torch_run(x, y, bs, torch_batches), 1),
                        f"first {torch_batches} batches"))
    except ImportError:
        rows.append(Row(name, "torch DataLoader (default)", float("nan"), "torch not installed"))
    return rows


def main() -> list[str]:
    out = []
    for name, n, shape, bs, tb, rep in (("S1", 200_000, (3, 32, 32), 256, 150, 3),
                                         ("S4", 1_000_000, (8,), 32, 3000, 3)):
        rows = scenario(name, n, shape, bs, tb, rep)
        save(rows, name)
        out.append(table(rows, "np.take(out=) limit"))
    return out
