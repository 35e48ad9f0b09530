"""Dask distributed: a Loader on a LocalCluster's executor gives exactly the serial batches."""

import os
import pickle

import distributed
import numpy as np
import pytest
from helpers import collect, same

from ladle import ArraySource, BatchError, Loader


def noisy(batch):
    """A random transform: draws from the batch's own generator."""
    batch["x"] = batch["x"] + batch.random.normal(size=batch["x"].shape).astype(np.float32)
    batch["pid"] = np.full(batch.size, os.getpid())
    return batch


def failing(batch):
    if batch.number == 2:
        raise ValueError("boom on a dask worker")
    return batch


class CountingSource(ArraySource):
    """Counts how often it is pickled (in this process): scattered once, not once per batch."""

    pickled = 0

    def __getstate__(self):
        type(self).pickled += 1
        return super().__getstate__()




@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    with cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def memmap_source(tmp_path):
    """A memmap (pickles as its file spec) beside an in-memory field."""
    x = (np.arange(120)[:, None] + np.arange(8) / 10).astype(np.float32)
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=x.dtype, shape=x.shape)
    mm[:] = x
    mm.flush()
    return ArraySource(x=np.load(tmp_path / "x.npy", mmap_mode="r"), y=np.arange(120) % 4)


def test_dask_cluster_gives_the_serial_batches(client, memmap_source):
    make = lambda **kw: Loader(memmap_source, 16, shuffle=True, seed=8, transform=noisy, epochs=2,
                               **kw)
    serial = collect(make())
    loader = make(executor=client.get_executor())
    batches = list(loader)
    same([(b.epoch, b.number, b.indices.tolist(), b["x"]) for b in batches], serial)
    workers = set(client.run(os.getpid).values())
    assert {int(b["pid"][0]) for b in batches} <= workers  # made on the cluster's processes
    assert all(np.array_equal(b["y"], np.arange(120)[b.indices] % 4) for b in batches)


def test_dask_resume_and_mixed_backends(client):
    make = lambda **kw: Loader({"x": np.arange(200.0).reshape(50, 4)}, 6, shuffle=True, seed=2,
                               transform=noisy, epochs=2, **kw)
    serial = collect(make())
    first = make(executor=client.get_executor())
    it = iter(first)
    head = [next(it) for _ in range(7)]
    state = pickle.loads(pickle.dumps(first.state_dict()))
    with make(workers=2, backend="process") as resumed:  # resumed elsewhere, with processes
        resumed.load_state_dict(state)
        rest = collect(resumed)
    same([(b.epoch, b.number, b.indices.tolist(), b["x"]) for b in head] + rest, serial)


def test_dask_errors_name_the_batch(client):
    loader = Loader({"x": np.arange(40.0)}, 5, transform=failing, executor=client.get_executor())
    with pytest.raises(BatchError, match=r"batch 2 of epoch 0 \(rows \[10, 11, 12, 13, 14\]\) "
                                         r"failed: ValueError: boom on a dask worker") as info:
        list(loader)
    assert "in failing" in info.value.traceback


def test_the_source_is_sent_to_the_cluster_once(client):
    CountingSource.pickled = 0
    loader = Loader(CountingSource(x=np.arange(300.0)), 10, executor=client.get_executor())
    assert len([b for b in loader]) == 30
    assert CountingSource.pickled == 1
