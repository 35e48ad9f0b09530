import json
import multiprocessing as mp
import subprocess
import sys
import types

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from torch.utils.data import DataLoader, IterableDataset

from ladle import Loader
from ladle.adapters.torch import TorchDataset, as_tensors, to_torch, worker_share


def blobs(n=600, d=8, k=3, seed=0):
    """A separable problem: k Gaussian blobs far apart."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centers = rng.normal(0, 4, (k, d))
    x = (centers[y] + rng.normal(0, 1, (n, d))).astype(np.float32)
    return x, y.astype(np.int64)


def indices_of(batches):
    return [np.asarray(b.indices).tolist() for b in batches]


# ------------------------------------------------------------------ without torch
def test_import_ladle_needs_no_framework():
    code = ("import sys; sys.modules['torch'] = None; sys.modules['keras'] = None\n"
            "import ladle, ladle.adapters, ladle.adapters.torch, ladle.adapters.keras\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_adapters_without_torch_name_the_extra(monkeypatch, xy):
    loader = Loader({"x": xy[0]}, batch_size=10)
    monkeypatch.setitem(sys.modules, "torch", None)
    for use in (lambda: to_torch(loader), lambda: TorchDataset(loader),
                lambda: as_tensors({"x": xy[0]})):
        with pytest.raises(ImportError, match=r"pip install ladle\[torch\]"):
            use()


def test_torch_is_importable_lazily_through_the_package():
    import ladle.adapters

    assert ladle.adapters.to_torch is to_torch
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ladle.adapters.nope


# ------------------------------------------------------------------ conversion
def test_to_torch_yields_tensors_sharing_the_batch_memory(xy):
    made = []

    def keep(batch):
        made.append(batch["x"])
        return batch

    loader = Loader({"x": xy[0], "y": xy[1]}, batch_size=32, shuffle=True, seed=1, transform=keep)
    out = list(to_torch(loader))
    assert len(out) == 4 == len(made)
    for b, arr in zip(out, made):
        assert isinstance(b["x"], torch.Tensor) and b["x"].dtype == torch.float32
        assert b["y"].dtype == torch.int64
        assert np.shares_memory(b["x"].numpy(), arr)  # zero-copy
        np.testing.assert_array_equal(b["x"].numpy(), xy[0][b.indices])


def test_as_tensors_dtypes_and_pass_through():
    ragged = [np.arange(2), np.arange(3)]
    data = {
        "u16": np.arange(4, dtype=np.uint16), "b": np.array([True, False]),
        "f16": np.ones(2, np.float16), "c": np.ones(2, np.complex64),
        "big": np.arange(3, dtype=">f4"), "rev": np.arange(4.0)[::-1],
        "ro": np.broadcast_to(np.arange(3), (2, 3)),
        "s": np.array(["a", "bb"]), "o": np.array([{}, None], dtype=object),
        "t": np.array(["2020-01-01"], dtype="M8[D]"), "ragged": ragged,
        "scalar": np.float32(2.5), "text": np.str_("hi"),
    }
    out = as_tensors(data)
    assert type(out) is dict
    for k in ("u16", "b", "f16", "c", "big", "rev", "ro"):
        assert isinstance(out[k], torch.Tensor), k
        np.testing.assert_array_equal(out[k].numpy(), data[k])
    assert out["big"].dtype == torch.float32
    ro = out["ro"].numpy()
    assert ro.flags.writeable and not np.shares_memory(ro, data["ro"])  # no read-only alias
    for k in ("s", "o", "t", "ragged", "text"):
        assert out[k] is data[k], k
    assert isinstance(out["scalar"], torch.Tensor) and float(out["scalar"]) == 2.5


def test_tuple_output_and_return_indices(xy):
    loader = Loader({"x": xy[0], "y": xy[1]}, batch_size=40, output=("y", "x"),
                    return_indices=True)
    batches = list(to_torch(loader))
    assert [len(b) for b in batches] == [3, 3, 3] and all(type(b) is tuple for b in batches)
    idx, y, x = batches[-1]
    assert idx.tolist() == list(range(80, 100))
    np.testing.assert_array_equal(y.numpy(), xy[1][80:])
    assert x.shape == (20, 2)


def test_batch_metadata_is_kept(xy):
    b = next(iter(to_torch(Loader({"x": xy[0]}, batch_size=8, shuffle=True, seed=2))))
    assert (b.epoch, b.number, b.seed) == (0, 0, 2)
    assert len(b.indices) == 8 and b.size == 8


def test_len_counts_the_batches_of_a_pass(xy):
    assert len(to_torch(Loader({"x": xy[0]}, batch_size=32))) == 4
    assert len(to_torch(Loader({"x": xy[0]}, batch_size=32, epochs=3))) == 12
    carry = Loader({"x": xy[0]}, batch_size=30, last_batch="carry", epochs=3)
    assert len(to_torch(carry)) == len(list(to_torch(carry))) == 10
    with pytest.raises(TypeError, match="endless"):
        len(to_torch(Loader({"x": xy[0]}, batch_size=32, epochs=None)))


def test_each_pass_is_the_next_epoch(xy):
    loader = Loader({"x": xy[0]}, batch_size=25, shuffle=True, seed=0)
    tb = to_torch(loader)
    first, second = indices_of(tb), indices_of(tb)
    assert loader.epoch == 2 and first != second
    tb.set_epoch(0)
    assert indices_of(tb) == first


def test_device_moves_every_tensor(xy):
    loader = Loader({"x": xy[0], "name": np.array([str(i) for i in range(100)])}, batch_size=50)
    b = next(iter(to_torch(loader, device="meta")))
    assert b["x"].device.type == "meta" and isinstance(b["name"], np.ndarray)


def test_pin_memory_without_accelerator_warns(monkeypatch, xy):
    monkeypatch.setattr("ladle.adapters.torch._accelerator_available", lambda torch: False)
    with pytest.warns(UserWarning, match="pin_memory=True but torch finds no accelerator"):
        tb = to_torch(Loader({"x": xy[0]}, batch_size=50), pin_memory=True)
    assert tb.pin_memory is False
    assert next(iter(tb))["x"].is_pinned() is False


def test_pin_memory_pins_then_copies_asynchronously(monkeypatch, xy):
    calls = []
    real_to = torch.Tensor.to

    def fake_pin(self):
        calls.append("pin")
        return self.clone()

    def spy_to(self, *args, **kwargs):
        calls.append(("to", str(args[0]), kwargs.get("non_blocking")))
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr("ladle.adapters.torch._accelerator_available", lambda torch: True)
    monkeypatch.setattr(torch.Tensor, "pin_memory", fake_pin)
    monkeypatch.setattr(torch.Tensor, "to", spy_to)
    b = next(iter(to_torch(Loader({"x": xy[0]}, batch_size=50), device="cpu", pin_memory=True)))
    assert calls == ["pin", ("to", "cpu", True)]
    np.testing.assert_array_equal(b["x"].numpy(), xy[0][:50])


# ------------------------------------------------------------------ training end to end
def test_train_a_torch_model_for_three_epochs():
    torch.manual_seed(0)
    x, y = blobs()
    loader = Loader({"x": x, "y": y}, batch_size=32, shuffle=True, seed=5, workers=2)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    losses, seen = [], []
    batches = to_torch(loader)
    for _ in range(3):
        total = 0.0
        for b in batches:
            seen.append((b.indices.copy(), b["x"].numpy().copy()))
            loss = torch.nn.functional.cross_entropy(model(b["x"]), b["y"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b["y"])
        losses.append(total / len(x))
    loader.close()
    assert losses[-1] < 0.5 * losses[0]
    with torch.no_grad():
        accuracy = float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())
    assert accuracy > 0.9  # chance is 1/3
    twin = Loader({"x": x, "y": y}, batch_size=32, shuffle=True, seed=5, epochs=3)
    expected = list(twin)
    assert len(seen) == len(expected) == 3 * len(batches)
    for (idx, xb), b in zip(seen, expected):
        np.testing.assert_array_equal(idx, b.indices)
        np.testing.assert_array_equal(xb, b["x"])


# ------------------------------------------------------------------ DataLoader / IterableDataset
@given(counts=st.lists(st.integers(0, 12), min_size=1, max_size=4), workers=st.integers(1, 5))
def test_worker_shares_are_disjoint_complete_and_merge_in_order(counts, workers):
    shares = [worker_share(counts, k, workers) for k in range(workers)]
    everything = [(e, i) for e, nb in enumerate(counts) for i in range(nb)]
    flat = [p for s in shares for p in s]
    assert sorted(flat) == everything and len(set(flat)) == len(flat)
    merged, queues = [], [list(s) for s in shares]
    while any(queues):  # DataLoader's round-robin over workers, skipping exhausted ones
        for q in queues:
            if q:
                merged.append(q.pop(0))
    assert merged == everything


def test_worker_share_checks_its_arguments():
    with pytest.raises(ValueError, match="worker=2 must be in"):
        worker_share([3], 2, 2)


def test_dataset_is_an_iterable_dataset(xy):
    ds = TorchDataset(Loader({"x": xy[0]}, batch_size=10))
    assert isinstance(ds, IterableDataset)
    assert len(ds) == len(DataLoader(ds, batch_size=None)) == 10


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
@pytest.mark.parametrize("workers, persistent", [(0, False), (2, False), (2, True), (3, False)])
def test_dataloader_workers_serve_each_batch_once_in_loader_order(xy, workers, persistent):
    x, y = xy
    make = lambda: Loader({"x": x, "y": y}, batch_size=9, shuffle=True, seed=4)
    ds = TorchDataset(make())
    dl = DataLoader(ds, batch_size=None, num_workers=workers, persistent_workers=persistent)
    passes = [list(dl) for _ in range(2)]
    reference = make()
    for epoch, batches in enumerate(passes):
        expected = list(reference)
        assert indices_of(batches) == indices_of(expected)  # same batches, same order
        flat = np.concatenate([b.indices for b in batches])
        assert sorted(flat.tolist()) == list(range(100))  # full coverage, no duplicates
        assert all(b.epoch == epoch for b in batches)
        for b in batches:
            assert isinstance(b["x"], torch.Tensor)
            np.testing.assert_array_equal(b["x"].numpy(), x[b.indices])
    assert indices_of(passes[0]) != indices_of(passes[1])  # reshuffled: the epoch advanced
    assert ds.epoch == 2


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_dataset_with_more_workers_than_batches_and_several_epochs(xy):
    loader = Loader({"x": xy[0]}, batch_size=40, epochs=2, shuffle=True, seed=9)
    got = list(DataLoader(TorchDataset(loader), batch_size=None, num_workers=4))
    assert indices_of(got) == indices_of(Loader({"x": xy[0]}, batch_size=40, epochs=2,
                                                shuffle=True, seed=9))


def test_dataset_pass_left_early_is_served_again_and_set_epoch_jumps(xy):
    ds = TorchDataset(Loader({"x": xy[0]}, batch_size=10, shuffle=True, seed=1))
    dl = DataLoader(ds, batch_size=None, num_workers=2)
    it = iter(dl)
    first = [next(it).indices.tolist() for _ in range(3)]
    del it
    assert ds.epoch == 0
    full = indices_of(dl)
    assert full[:3] == first and ds.epoch == 1
    ds.set_epoch(0)
    assert indices_of(dl) == full
    with pytest.raises(ValueError, match="epoch=-1 must be >= 0"):
        ds.set_epoch(-1)


def test_endless_dataset_has_no_len_but_streams(xy):
    ds = TorchDataset(Loader({"x": xy[0]}, batch_size=50, epochs=None))
    with pytest.raises(TypeError, match="endless"):
        len(ds)
    it = iter(ds)
    assert [next(it).epoch for _ in range(5)] == [0, 0, 1, 1, 2]


def test_unsharded_loader_is_refused_under_distributed(monkeypatch, xy):
    fake = types.SimpleNamespace(is_available=lambda: True, is_initialized=lambda: True,
                                 get_world_size=lambda: 2)
    loader = Loader({"x": xy[0]}, batch_size=10)
    monkeypatch.setitem(sys.modules, "torch.distributed", fake)
    for use in (TorchDataset, to_torch):
        with pytest.raises(ValueError, match="world_size=2 but the loader has shard=None"):
            use(loader)
    sharded = Loader({"x": xy[0]}, batch_size=10, shard=(1, 2))
    assert len(TorchDataset(sharded)) == 5


def _rank_main(rank: int, world: int, init_file: str, out_file: str) -> None:
    import os

    import torch.distributed as dist

    if sys.platform == "linux":
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # loopback only, whatever the hostname
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        x = np.arange(90, dtype=np.float32)[:, None]
        loader = Loader({"x": x}, batch_size=8, shuffle=True, seed=3)  # shards itself
        dl = DataLoader(TorchDataset(loader), batch_size=None, num_workers=2)
        passes = [indices_of(dl) for _ in range(2)]
        with open(out_file, "w") as f:
            json.dump({"shard": list(loader.shard), "passes": passes}, f)
    finally:
        dist.destroy_process_group()


def test_torch_distributed_ranks_and_workers_split_the_data(tmp_path):
    ctx = mp.get_context("fork")
    outs = [tmp_path / f"rank{r}.json" for r in range(2)]
    procs = [ctx.Process(target=_rank_main, args=(r, 2, str(tmp_path / "init"), str(outs[r])))
             for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    results = [json.loads(o.read_text()) for o in outs]
    assert [r["shard"] for r in results] == [[0, 2], [1, 2]]
    for epoch in range(2):
        per_rank = [[i for b in r["passes"][epoch] for i in b] for r in results]
        assert len(per_rank[0]) == len(per_rank[1]) == 45
        assert sorted(per_rank[0] + per_rank[1]) == list(range(90))  # disjoint, complete
        for rank, r in enumerate(results):
            expected = Loader({"x": np.zeros(90)}, batch_size=8, shuffle=True, seed=3,
                              shard=(rank, 2))
            expected.set_epoch(epoch)
            assert r["passes"][epoch] == indices_of(expected)
    assert results[0]["passes"][0] != results[0]["passes"][1]
