"""``python -m ladle.demo``: train a softmax classifier on scikit-learn's digits through a Loader.

Real work, offline: 1,797 8×8 digit images (bundled with scikit-learn), a shuffled and augmented
``Loader`` (random contrast and noise drawn from each batch's own generator), a NumPy softmax
regression trained for a few epochs, with accuracy per epoch and throughput.

Example:
    >>> from ladle.demo import jitter
    >>> callable(jitter)
    True
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from . import Batch, Loader


def jitter(batch: Batch) -> Batch:
    """Per-sample random contrast (×0.8–1.2) and Gaussian noise from ``batch.random`` (vectorised)."""
    g = batch.random
    x = batch["x"]
    scale = g.uniform(0.8, 1.2, size=(x.shape[0],) + (1,) * (x.ndim - 1)).astype(np.float32)
    batch["x"] = x * scale + g.normal(0, 0.05, size=x.shape).astype(np.float32)
    return batch


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    split = np.random.default_rng(args.seed).permutation(len(y))
    train, test = split[:1400], split[1400:]

    loader = Loader({"x": x[train], "y": y[train]}, batch_size=args.batch_size, shuffle=True,
                    seed=args.seed, transform=jitter, progress=True)
    w = np.zeros((64, 10), np.float32)
    b = np.zeros(10, np.float32)
    lr = 0.5
    print(f"digits: {len(train)} train / {len(test)} test samples, batch {args.batch_size}, "
          f"{len(loader)} batches per epoch")
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        seen = 0
        for batch in loader:
            xb = batch["x"].reshape(batch.size, -1)
            p = softmax(xb @ w + b)
            p[np.arange(batch.size), batch["y"]] -= 1
            w -= lr * xb.T @ p / batch.size
            b -= lr * p.mean(axis=0)
            seen += batch.size
        dt = time.perf_counter() - t0
        acc = float(np.mean(np.argmax(x[test].reshape(len(test), -1) @ w + b, axis=1) == y[test]))
        print(f"epoch {epoch + 1}: test accuracy {acc:.3f}  ({seen / dt:,.0f} samples/s)")
    if acc < 0.85:
        print("accuracy below 0.85: something is wrong")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
