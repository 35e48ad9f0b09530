import os
import pickle
import random
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ladle import Loader  # noqa: E402
from ladle.adapters import require  # noqa: E402
from ladle.adapters.keras import as_keras_batch, to_keras  # noqa: E402
from ladle.keras import LoaderDataset, Sequence  # noqa: E402

# Keras' torch backend itself calls np.array on tensors during fit (not ladle's doing).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy")


def blobs(n=480, d=8, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centers = rng.normal(0, 4, (k, d))
    x = (centers[y] + rng.normal(0, 1, (n, d))).astype(np.float32)
    return x, y.astype(np.int64)


def epoch_rows(ds, order=None):
    order = range(len(ds)) if order is None else order
    return {i: ds[i] for i in order}


# ------------------------------------------------------------------ without keras
def test_to_keras_without_keras_names_the_extra(monkeypatch, xy):
    loader = Loader({"x": xy[0], "y": xy[1]}, batch_size=10)
    monkeypatch.setitem(sys.modules, "keras", None)
    with pytest.raises(ImportError, match=r"to_keras needs keras.*pip install ladle\[keras\]"):
        to_keras(loader)


def test_ladle_keras_module_without_keras_names_the_extra():
    code = ("import sys; sys.modules['keras'] = None\n"
            "try:\n    import ladle.keras\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "pip install ladle[keras]" in out.stdout, out.stderr


def test_keras_without_a_backend_says_to_set_keras_backend(monkeypatch):
    def broken(name):
        raise ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")

    monkeypatch.setattr("ladle.adapters.importlib.import_module", broken)
    with pytest.raises(ImportError, match="'tensorflow' is missing.*KERAS_BACKEND=torch"):
        require("keras", "keras", "to_keras")


# ------------------------------------------------------------------ the PyDataset
def test_to_keras_is_a_pydataset_with_keras_arguments(xy):
    loader = Loader({"x": xy[0], "y": xy[1]}, batch_size=32)
    ds = to_keras(loader, workers=3, use_multiprocessing=True, max_queue_size=4)
    assert isinstance(ds, keras.utils.PyDataset) and isinstance(ds, LoaderDataset)
    assert (ds.workers, ds.use_multiprocessing, ds.max_queue_size) == (3, True, 4)
    assert len(ds) == 4 == ds.num_batches
    x, y = ds[3]
    np.testing.assert_array_equal(x, xy[0][96:])
    np.testing.assert_array_equal(y, xy[1][96:])


def test_batch_forms(xy):
    x, y = xy
    w = np.linspace(0, 1, 100)
    loader = Loader({"a": x, "b": x * 2, "y": y, "w": w}, batch_size=10)
    out = to_keras(loader, inputs=("a", "b"), targets="y", sample_weight="w")[1]
    assert type(out) is tuple and len(out) == 3
    assert sorted(out[0]) == ["a", "b"]
    np.testing.assert_array_equal(out[0]["b"], 2 * x[10:20])
    np.testing.assert_array_equal(out[2], w[10:20])
    (only,) = to_keras(loader, inputs="a", targets=None)[0]
    np.testing.assert_array_equal(only, x[:10])
    named = to_keras(loader, inputs={"image": "a"}, targets={"label": "y"})[0]
    assert list(named[0]) == ["image"] and list(named[1]) == ["label"]


def test_as_keras_batch_reads_one_named_field_as_its_array(xy):
    out = as_keras_batch({"x": xy[0], "y": xy[1], "z": xy[1]}, inputs=["x"], targets=["y", "z"])
    assert type(out) is tuple and out[0] is xy[0] and sorted(out[1]) == ["y", "z"]


def test_tuple_output_loaders_are_read_by_name(xy):
    loader = Loader({"x": xy[0], "y": xy[1]}, batch_size=50, output=("y", "x"),
                    return_indices=True)
    x, y = to_keras(loader)[1]
    np.testing.assert_array_equal(x, xy[0][50:])
    idx, _ = to_keras(loader, inputs="indices", targets="y")[1]
    assert idx.tolist() == list(range(50, 100))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"inputs": ("x", "nope")}, ValueError, r"inputs names the field 'nope'.*\['x', 'y'\]"),
    ({"targets": "z"}, ValueError, "targets names the field 'z'"),
    ({"inputs": ()}, ValueError, "inputs=.* must name at least one field"),
    ({"targets": None, "sample_weight": "x"}, ValueError, "needs targets"),
    ({"sample_weight": 3}, TypeError, "sample_weight=3 must be the name of a field"),
    ({"inputs": {"a": 1}}, TypeError, "must be strings"),
    ({"workers": -1}, ValueError, "workers=-1 must be >= 0"),
    ({"max_queue_size": 0}, ValueError, "max_queue_size=0 must be >= 1"),
])
def test_bad_arguments_are_refused_clearly(xy, kwargs, error, match):
    with pytest.raises(error, match=match):
        to_keras(Loader({"x": xy[0], "y": xy[1]}, batch_size=10), **kwargs)


def test_carry_is_refused(xy):
    with pytest.raises(ValueError, match="last_batch='carry'.*'short', 'drop' or 'merge'"):
        to_keras(Loader({"x": xy[0], "y": xy[1]}, batch_size=30, last_batch="carry"))


def test_missing_field_from_a_transform_is_reported_at_the_batch(xy):
    loader = Loader({"x": xy[0], "y": xy[1]}, batch_size=10, transform=lambda b: {"x": b["x"]})
    ds = to_keras(loader)
    with pytest.raises(KeyError, match=r"field 'y' named in targets= is not in the batch"):
        ds[0]


def test_out_of_order_and_parallel_requests_give_the_same_batches(xy):
    loader = Loader({"x": xy[0], "y": xy[1]}, batch_size=7, shuffle=True, seed=3)
    ds = to_keras(loader)
    order = list(range(len(ds)))
    random.Random(0).shuffle(order)
    in_order, shuffled = epoch_rows(ds), epoch_rows(ds, order)
    with ThreadPoolExecutor(4) as pool:
        threaded = dict(zip(order, pool.map(ds.__getitem__, order)))
    for i in range(len(ds)):
        for other in (shuffled, threaded):
            np.testing.assert_array_equal(in_order[i][0], other[i][0])
            np.testing.assert_array_equal(in_order[i][1], other[i][1])
    rows = np.concatenate([in_order[i][0][:, 0] for i in range(len(ds))])
    assert sorted(rows.tolist()) == sorted(xy[0][:, 0].tolist())  # the whole epoch, once


def test_on_epoch_end_reshuffles_the_next_epoch(xy):
    loader = Loader({"x": xy[0], "y": xy[1]}, batch_size=10, shuffle=True, seed=2)
    ds = to_keras(loader)
    first = np.concatenate([ds[i][0][:, 0] for i in range(len(ds))])
    ds.on_epoch_end()
    assert loader.epoch == ds.epoch == 1
    second = np.concatenate([ds[i][0][:, 0] for i in range(len(ds))])
    assert sorted(first.tolist()) == sorted(second.tolist()) and not np.array_equal(first, second)


class _SpyOrder:
    """Delegates to a loader's order and records the threads that compute epochs."""

    def __init__(self, order):
        self.order, self.threads = order, []

    def __call__(self, *args):
        self.threads.append(threading.current_thread())
        return self.order(*args)

    def __getattr__(self, name):
        return getattr(self.order, name)


def test_epochs_are_planned_in_the_calling_thread_not_in_keras_workers(xy):
    loader = Loader({"x": xy[0], "y": xy[1]}, batch_size=5, shuffle=True, seed=1)
    spy = loader.order = _SpyOrder(loader.order)
    loader._cache.clear()
    ds = to_keras(loader, workers=4)
    n = len(ds)
    with ThreadPoolExecutor(4) as pool:
        for _ in range(6):  # several epochs: the loader evicts old plans as new ones come
            list(pool.map(ds.__getitem__, range(n)))
            ds.on_epoch_end()
    assert len(spy.threads) >= 6
    assert set(spy.threads) == {threading.main_thread()}


def test_pickled_dataset_gives_the_same_batches(xy):
    ds = to_keras(Loader({"x": xy[0], "y": xy[1]}, batch_size=16, shuffle=True, seed=8))
    ds.on_epoch_end()
    copy = pickle.loads(pickle.dumps(ds))
    assert copy.epoch == 1 and copy.workers == 1
    np.testing.assert_array_equal(copy[2][0], ds[2][0])


# ------------------------------------------------------------------ model.fit end to end
def _classifier(inputs):
    keras.utils.set_random_seed(0)
    merged = inputs[0] if len(inputs) == 1 else keras.layers.Concatenate()(inputs)
    hidden = keras.layers.Dense(16, activation="relu")(merged)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_fit_three_epochs_through_to_keras():
    x, y = blobs()
    loader = Loader({"x": x, "y": y}, batch_size=32, shuffle=True, seed=0)
    model = _classifier([keras.Input((8,))])
    history = model.fit(to_keras(loader), epochs=3, verbose=0)
    assert history.history["accuracy"][-1] > 0.9  # chance is 1/3
    assert history.history["loss"][-1] < history.history["loss"][0]
    # Keras calls on_epoch_end once after building the model, then once per epoch.
    assert loader.epoch == 4


def test_fit_multi_input_model_with_dict_batches_and_threads():
    x, y = blobs(seed=1)
    w = np.where(y == 0, 2.0, 1.0)
    loader = Loader({"a": x[:, :4], "b": x[:, 4:], "label": y, "w": w}, batch_size=32,
                    shuffle=True, seed=1)
    model = _classifier([keras.Input((4,), name="a"), keras.Input((4,), name="b")])
    ds = to_keras(loader, inputs=("a", "b"), targets="label", sample_weight="w", workers=2)
    x_batch = ds[0][0]
    assert isinstance(x_batch, dict) and sorted(x_batch) == ["a", "b"]
    history = model.fit(ds, epochs=3, verbose=0)
    assert history.history["accuracy"][-1] > 0.9


# ------------------------------------------------------------------ the Sequence base class
class BlobSequence(Sequence):
    """The seed document's generator, with ladle doing the indexing and shuffling."""

    def __init__(self, x, y, batch_size=32, **kwargs):
        super().__init__(len(x), batch_size, **kwargs)
        self.x, self.y = x, y
        self.requested = []

    def get_batch(self, indices):
        self.requested.append(indices)
        return [self.x[indices], self.y[indices]]  # a list, as the seed's users often return


def test_sequence_batches_cover_each_epoch_and_reshuffle():
    x, y = blobs(n=100)
    seq = BlobSequence(x, y, batch_size=32, seed=4, last_batch="merge")
    assert len(seq) == 3 and seq.batch_size == 32 and seq.seed == 4
    epochs = []
    for _ in range(2):
        batches = [seq[i] for i in range(len(seq))]
        assert all(type(b) is tuple for b in batches)
        idx = np.concatenate([seq.batch_indices(i) for i in range(len(seq))])
        assert sorted(idx.tolist()) == list(range(100))
        np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x[idx])
        epochs.append(idx)
        seq.on_epoch_end()
    assert seq.epoch == 2 and not np.array_equal(*epochs)


def test_sequence_without_shuffle_and_from_a_sized_object():
    seq = BlobSequence(np.arange(10.0), np.arange(10), batch_size=4, shuffle=False,
                       last_batch="drop")
    assert [seq.batch_indices(i).tolist() for i in range(len(seq))] == [[0, 1, 2, 3],
                                                                          [4, 5, 6, 7]]

    class ByName(Sequence):
        def get_batch(self, indices):
            return (indices,)

    assert len(ByName(["a.png", "b.png", "c.png"], batch_size=2)) == 2


def test_sequence_resumes_from_its_state():
    x, y = blobs(n=50)
    a = BlobSequence(x, y, batch_size=8, seed=6)
    a.on_epoch_end()
    b = BlobSequence(x, y, batch_size=8)
    b.load_state_dict(a.state_dict())
    assert b.epoch == 1 and b.batch_indices(3).tolist() == a.batch_indices(3).tolist()


def test_sequence_errors():
    class Bare(Sequence):
        pass

    with pytest.raises(NotImplementedError, match="Bare must implement get_batch"):
        Bare(10, batch_size=2)[0]

    class Wrong(Sequence):
        def get_batch(self, indices):
            return indices

    with pytest.raises(TypeError, match="returned ndarray; return \\(x,\\), \\(x, y\\)"):
        Wrong(10, batch_size=2)[0]
    with pytest.raises(ValueError, match="last_batch='carry'"):
        Bare(10, batch_size=3, last_batch="carry")
    with pytest.raises(ValueError, match="n_samples=0 must be >= 1"):
        Bare(0)


def test_fit_a_sequence_subclass_for_three_epochs():
    x, y = blobs(seed=2)
    seq = BlobSequence(x, y, batch_size=32, seed=0, workers=2)
    history = _classifier([keras.Input((8,))]).fit(seq, epochs=3, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    served = np.concatenate(seq.requested[-len(seq):])
    assert sorted(served.tolist()) == list(range(len(x)))  # the last epoch: every row once
