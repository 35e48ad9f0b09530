"""``python -m ladle.demo`` (``make demo``, ``ladle demo``): train from an HDF5 store via a Loader.

Real work, offline, on the embedded default store: scikit-learn's bundled digits (1,797 8×8 images)
are written to an HDF5 store (ketos layout: ``id``, ``data``, ``label``, plus a ``fold`` column);
a query splits it (``where="fold != 0"`` trains, ``"fold == 0"`` tests); a shuffled, augmented
``Loader`` over the store (random contrast and noise drawn from each batch's own generator) feeds a
NumPy softmax regression for a few epochs, with a progress bar, accuracy per epoch and throughput.

Example:
    >>> import numpy as np
    >>> from ladle import Batch
    >>> from ladle.demo import jitter
    >>> jitter(Batch({"data": np.ones((2, 8, 8), np.float32)}, seed=0))["data"].shape
    (2, 8, 8)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from . import Batch, Loader
from .sources.hdf5 import HDF5Source
from .store import write_store

__all__ = ["add_arguments", "build_digits_store", "jitter", "main", "softmax"]

N_FOLDS = 5


def jitter(batch: Batch) -> Batch:
    """Per-sample random contrast (×0.8–1.2) and Gaussian noise from ``batch.random`` (vectorised).

    Example:
        >>> b = jitter(Batch({"data": np.zeros((3, 2), np.float32)}, seed=1))
        >>> b["data"].dtype, bool(b["data"].any())
        (dtype('float32'), True)
    """
    g = batch.random
    x = batch["data"]
    scale = g.uniform(0.8, 1.2, size=(x.shape[0],) + (1,) * (x.ndim - 1)).astype(np.float32)
    batch["data"] = x * scale + g.normal(0, 0.05, size=x.shape).astype(np.float32)
    return batch


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable.

    Example:
        >>> softmax(np.zeros((1, 4))).tolist()
        [[0.25, 0.25, 0.25, 0.25]]
    """
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def build_digits_store(path: str, seed: int = 0, progress: bool = False) -> int:
    """Write scikit-learn's digits to an HDF5 store at ``path``; returns the rows written.

    Columns: ``id``, ``data`` (float32 8×8 in [0, 1]), ``label`` (uint8), ``fold`` (uint8, 0-4,
    drawn from ``seed``); attribute ``class_names``.

    Example:
        >>> import os, tempfile
        >>> build_digits_store(os.path.join(tempfile.mkdtemp(), "digits.h5"))
        1797
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    n = len(digits.target)
    fold = np.random.default_rng(seed).permutation(np.arange(n) % N_FOLDS).astype(np.uint8)
    return write_store(path, {"data": (digits.images / 16.0).astype(np.float32),
                              "label": digits.target.astype(np.uint8), "fold": fold},
                       attrs={"class_names": [str(c) for c in digits.target_names]},
                       chunk_rows=256, progress=progress)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options (shared by ``python -m ladle.demo`` and ``ladle demo``).

    Example:
        >>> p = argparse.ArgumentParser(); add_arguments(p); p.parse_args([]).epochs
        15
    """
    parser.add_argument("--epochs", type=int, default=15, help="training epochs (default 15)")
    parser.add_argument("--batch-size", type=int, default=64, help="samples per batch (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the batches")
    parser.add_argument("--workers", type=int, default=0, help="loader threads (default 0)")
    parser.add_argument("--store", default=None,
                        help="write the store here and keep it (default: a temporary file)")


def run(args: argparse.Namespace) -> int:
    """Build the store, train, print accuracy per epoch; 0 when the accuracy is useful."""
    tmp = None
    path = args.store
    if path is None:
        tmp = tempfile.TemporaryDirectory(prefix="ladle-demo-")
        path = os.path.join(tmp.name, "digits.h5")
    try:
        t0 = time.perf_counter()
        rows = build_digits_store(path, args.seed, progress=True)
        print(f"store: {rows} digits written to {path} ({os.path.getsize(path) / 1e3:,.0f} kB) "
              f"in {time.perf_counter() - t0:.2f} s")
        with HDF5Source(path, where="fold != 0", fields=["data", "label"]) as train, \
                HDF5Source(path, where="fold == 0", fields=["data", "label"]) as test:
            return _train(args, train, test)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _train(args: argparse.Namespace, train: HDF5Source, test: HDF5Source) -> int:
    held_out = test.read(np.arange(len(test)))
    x_test = held_out["data"].reshape(len(test), -1)
    y_test = held_out["label"].astype(np.int64)
    loader = Loader(train, batch_size=args.batch_size, shuffle=True, seed=args.seed,
                    transform=jitter, progress=True, workers=args.workers)
    w = np.zeros((x_test.shape[1], 10), np.float32)
    b = np.zeros(10, np.float32)
    lr = 0.5
    print(f"digits: {len(train)} train / {len(test)} test samples (split by the query "
          f"'{train.where}'), batch {args.batch_size}, {len(loader)} batches per epoch")
    acc = 0.0
    with loader:
        for epoch in range(args.epochs):
            t0 = time.perf_counter()
            seen = 0
            for batch in loader:
                xb = batch["data"].reshape(batch.size, -1)
                p = softmax(xb @ w + b)
                p[np.arange(batch.size), batch["label"]] -= 1
                w -= lr * xb.T @ p / batch.size
                b -= lr * p.mean(axis=0)
                seen += batch.size
            dt = time.perf_counter() - t0
            acc = float(np.mean(np.argmax(x_test @ w + b, axis=1) == y_test))
            print(f"epoch {epoch + 1}: test accuracy {acc:.3f}  ({seen / dt:,.0f} samples/s)")
    if acc < 0.85:
        print("accuracy below 0.85: something is wrong")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the demo with command-line arguments ``argv``; returns the exit status.

    Example:
        >>> main.__doc__.split()[0]
        'Run'
    """
    parser = argparse.ArgumentParser(prog="python -m ladle.demo",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
