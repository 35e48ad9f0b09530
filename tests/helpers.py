"""Helpers shared by the loader, parallel and Dask tests: a random transform and batch comparison."""

import numpy as np


def noisy(batch):
    """A random transform that draws from the batch's own generator."""
    batch["x"] = batch["x"] + batch.random.normal(size=batch["x"].shape).astype(np.float32)
    return batch


def collect(loader):
    """``(epoch, number, row ids, x)`` of every batch the loader yields."""
    return [(b.epoch, b.number, b.indices.tolist(), np.array(b["x"])) for b in loader]


def same(a, b):
    """Two collections of batches are identical, values included."""
    assert len(a) == len(b)
    for (e1, n1, i1, x1), (e2, n2, i2, x2) in zip(a, b):
        assert (e1, n1, i1) == (e2, n2, i2)
        np.testing.assert_array_equal(x1, x2)
