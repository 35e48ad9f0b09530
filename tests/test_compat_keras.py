"""ladle.compat.keras: hand-written Keras Sequence generators (as in the seed article) on Keras 3,
unchanged but for the import; and the optional ladle-driven mode."""

import os
import pickle
import subprocess
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, strategies as st  # noqa: E402

from ladle import Loader  # noqa: E402
from ladle.compat.keras import Sequence  # noqa: E402

# Keras' torch backend itself calls np.array on tensors during fit (not ladle's doing).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy")

SUPER_WARNING = "should call `super().__init__"


def article_generator(base):
    """The seed article's generator, blanks filled in, written against ``base`` (a Sequence)."""

    class DataGenerator(base):
        def __init__(self, df, x_col, y_col=None, batch_size=32, num_classes=None, shuffle=True):
            self.batch_size = batch_size
            self.df = df
            self.indices = self.df.index.tolist()
            self.num_classes = num_classes
            self.shuffle = shuffle
            self.x_col = x_col
            self.y_col = y_col
            self.epochs_ended = 0
            self.on_epoch_end()

        def on_epoch_end(self):
            self.epochs_ended += 1
            self.index = np.arange(len(self.indices))
            if self.shuffle == True:  # noqa: E712 - as written in the article
                np.random.shuffle(self.index)

        def __len__(self):
            return len(self.indices) // self.batch_size

        def __getitem__(self, index):
            index = self.index[index * self.batch_size:(index + 1) * self.batch_size]
            batch = [self.indices[k] for k in index]
            X, y = self.__get_data(batch)
            return X, y

        def __get_data(self, batch):
            X = np.stack(self.df.loc[batch, self.x_col].to_list()).astype("float32")
            y = keras.utils.to_categorical(self.df.loc[batch, self.y_col].to_numpy(),
                                           self.num_classes)
            return X, y

    return DataGenerator


def blobs_frame(n=96, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centers = rng.normal(0, 4, (k, d))
    x = (centers[y] + rng.normal(0, 1, (n, d))).astype(np.float32)
    return pd.DataFrame({"features": list(x), "label": y})


def small_model(d=4, k=3):
    model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(k, activation="softmax")])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    return model


def super_warnings(record):
    return [w for w in record if SUPER_WARNING in str(w.message)]


# ------------------------------------------------------------------ the article, import changed
def test_article_generator_trains_with_keras3_fit_without_warnings():
    df = blobs_frame()
    gen = article_generator(Sequence)(df, "features", "label", batch_size=16, num_classes=3)
    assert isinstance(gen, keras.utils.Sequence) and isinstance(gen, keras.utils.PyDataset)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        history = small_model().fit(gen, epochs=2, verbose=0)
    assert super_warnings(record) == []
    assert len(history.history["loss"]) == 2
    assert gen.epochs_ended >= 3  # once in __init__, then by Keras after every epoch
    assert (gen.workers, gen.use_multiprocessing, gen.max_queue_size) == (1, False, 10)


def test_keras_own_sequence_warns_where_the_compat_one_does_not():
    df = blobs_frame(n=32)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        small_model().fit(article_generator(keras.utils.Sequence)(df, "features", "label", 16, 3),
                          epochs=1, verbose=0)
    assert super_warnings(record)  # the warning the compat class removes


def test_article_generator_draws_from_the_global_rng_as_written():
    df = blobs_frame(n=40)
    np.random.seed(7)
    gen = article_generator(Sequence)(df, "features", "label", batch_size=8, num_classes=3)
    expected = np.arange(40)
    np.random.RandomState(7).shuffle(expected)
    np.testing.assert_array_equal(gen.index, expected)
    x, y = gen[1]
    np.testing.assert_array_equal(x, np.stack(df["features"].to_list())[expected[8:16]])
    assert len(gen) == 5 and y.shape == (8, 3)


def test_list_results_become_tuples_in_every_subclass_level():
    class Listy(Sequence):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return [np.full(3, i, "float32"), np.arange(3)]

    class Deeper(Listy):
        def __getitem__(self, i):
            out = super().__getitem__(i)
            return [out[0] * 2, out[1]]

    class Dicts(Sequence):
        def __len__(self):
            return 1

        def __getitem__(self, i):
            return {"x": np.zeros(2)}

    assert type(Listy()[1]) is tuple and Listy()[1][0].tolist() == [1.0, 1.0, 1.0]
    assert type(Deeper()[1]) is tuple and Deeper()[1][0].tolist() == [2.0, 2.0, 2.0]
    assert type(Dicts()[0]) is dict


def test_classic_subclass_with_workers_trains_on_threads():
    df = blobs_frame()

    class Threaded(article_generator(Sequence)):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            Sequence.__init__(self, workers=2)
            self.threads = set()

        def __getitem__(self, index):
            self.threads.add(threading.get_ident())
            return super().__getitem__(index)

    gen = Threaded(df, "features", "label", batch_size=16, num_classes=3)
    assert gen.workers == 2
    history = small_model().fit(gen, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and threading.get_ident() not in gen.threads


def test_zero_batches_is_an_error_not_a_silent_empty_fit():
    gen = article_generator(Sequence)(blobs_frame(n=8), "features", "label", batch_size=16,
                                      num_classes=3)
    assert len(gen) == 0
    with pytest.raises(ValueError, match=r"__len__\(\) is 0.*lower the batch size"):
        _ = gen.num_batches
    with pytest.raises(ValueError, match=r"__len__\(\) is 0"):
        small_model().fit(gen, epochs=1, verbose=0)


def test_classic_mode_errors_name_the_fix():
    class NoLen(Sequence):
        def __getitem__(self, i):
            return (np.zeros(1),)

    class NoItem(Sequence):
        def __len__(self):
            return 1

    assert NoLen().num_batches is None  # an endless PyDataset, as in Keras
    with pytest.raises(NotImplementedError, match="must implement __len__"):
        len(NoLen())
    with pytest.raises(NotImplementedError, match=r"must implement __getitem__"):
        NoItem()[0]
    with pytest.raises(RuntimeError, match=r"batch_indices needs the ladle-driven mode.*n_samples"):
        NoItem().batch_indices(0)
    with pytest.raises(RuntimeError, match="state_dict needs the ladle-driven mode"):
        NoItem().state_dict()
    NoItem().on_epoch_end()  # a no-op, as in Keras


class PicklableGenerator(article_generator(Sequence)):
    pass


def test_classic_instance_pickles_with_keras_defaults():
    gen = PicklableGenerator(blobs_frame(n=32), "features", "label", 8, 3)
    again = pickle.loads(pickle.dumps(gen))
    assert (again.workers, again.max_queue_size) == (1, 10) and not again.ladle_driven
    np.testing.assert_array_equal(again[0][0], gen[0][0])


# ------------------------------------------------------------------ ladle-driven mode
class FrameSequence(Sequence):
    """The article's generator in ladle-driven mode: it only loads rows; it may still set the
    attribute names the article uses."""

    def __init__(self, df, batch_size=16, seed=0, **kwargs):
        super().__init__(n_samples=df, batch_size=batch_size, seed=seed, **kwargs)
        self.df, self.batch_size, self.shuffle = df, batch_size, True
        self.indices, self.epoch, self.seed = [], 0, seed
        self.x = np.stack(df["features"].to_list())
        self.y = keras.utils.to_categorical(df["label"].to_numpy(), 3)

    def __getitem__(self, index):
        rows = self.batch_indices(index)
        return [self.x[rows], self.y[rows]]


def test_ladle_mode_trains_and_reshuffles_every_epoch_from_the_seed():
    df = blobs_frame()

    class Counted(FrameSequence):
        ends = 0

        def on_epoch_end(self):
            Counted.ends += 1
            super().on_epoch_end()

    seq = Counted(df, batch_size=20)
    assert seq.ladle_driven and len(seq) == 5  # "short": 96 = 4 * 20 + 16
    before = np.random.get_state()[1].copy()
    epoch0 = np.concatenate([seq.batch_indices(i) for i in range(len(seq))])
    history = small_model().fit(seq, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert Counted.ends >= 2 and seq.state_dict()["epoch"] == Counted.ends
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # the global RNG is untouched
    assert sorted(epoch0.tolist()) == list(range(96))
    again = FrameSequence(df, batch_size=20)
    np.testing.assert_array_equal(np.concatenate([again.batch_indices(i) for i in range(5)]),
                                  epoch0)
    again.on_epoch_end()
    assert not np.array_equal(again.batch_indices(0), epoch0[:20])
    assert type(seq[0]) is tuple


@given(n=st.integers(1, 60), batch_size=st.integers(1, 70),
       last_batch=st.sampled_from(["short", "drop", "merge"]), seed=st.integers(0, 2 ** 31),
       epoch=st.integers(0, 3))
def test_ladle_mode_batches_are_the_loaders(n, batch_size, last_batch, seed, epoch):
    class Rows(Sequence):
        def get_batch(self, rows):
            return (rows,)

    if last_batch == "drop" and batch_size > n:
        with pytest.raises(ValueError, match="batch_size"):
            Rows(n_samples=n, batch_size=batch_size, last_batch=last_batch)
        return
    seq = Rows(n_samples=n, batch_size=batch_size, seed=seed, last_batch=last_batch)
    seq.set_epoch(epoch)
    loader = Loader({"i": np.arange(n)}, batch_size, shuffle=True, seed=seed, last_batch=last_batch)
    loader.set_epoch(epoch)
    assert len(seq) == len(loader)
    got = [seq[i][0] for i in reversed(range(len(seq)))][::-1]  # any order of requests
    want = [b["i"] for b in loader]
    assert [g.tolist() for g in got] == [w.tolist() for w in want]
    flat = np.concatenate(got)
    assert np.unique(flat).size == flat.size
    if last_batch != "drop":
        assert sorted(flat.tolist()) == list(range(n))


def test_ladle_mode_parallel_requests_match_serial_ones():
    class Rows(Sequence):
        def get_batch(self, rows):
            return rows.astype("float32"), rows % 3

    seq = Rows(n_samples=1000, batch_size=7, seed=3, workers=4)
    serial = [seq[i][0] for i in range(len(seq))]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda i: seq[i][0], range(len(seq))))
    assert all(np.array_equal(a, b) for a, b in zip(serial, parallel))


def test_ladle_mode_resumes_exactly_and_accepts_any_order():
    class Rows(Sequence):
        def get_batch(self, rows):
            return (rows,)

    a = Rows(n_samples=30, batch_size=4, seed=11, last_batch="drop")
    for _ in range(3):
        a.on_epoch_end()
    b = Rows(n_samples=30, batch_size=4, last_batch="drop")
    b.load_state_dict(a.state_dict())
    assert len(b) == 7 and all(np.array_equal(a[i][0], b[i][0]) for i in range(7))
    weighted = Rows(n_samples=4, batch_size=4, order=np.array([3, 3, 1, 0]), shuffle=False)
    assert weighted[0][0].tolist() == [3, 3, 1, 0]


def test_ladle_mode_argument_errors():
    class Rows(Sequence):
        def get_batch(self, rows):
            return "not a batch"

    with pytest.raises(ValueError, match="needs both n_samples= and batch_size="):
        Rows(n_samples=10)
    with pytest.raises(ValueError, match="seed=, order=.*ladle-driven mode"):
        Rows(seed=1)
    with pytest.raises(ValueError, match="last_batch='carry'"):
        Rows(n_samples=10, batch_size=3, last_batch="carry")
    with pytest.raises(ValueError, match="n_samples=0 must be >= 1"):
        Rows(n_samples=[], batch_size=3)
    with pytest.raises(TypeError, match=r"get_batch returned a str; return \(x,\), \(x, y\)"):
        Rows(n_samples=10, batch_size=3)[0]


def test_without_keras_the_error_names_the_extra():
    code = ("import sys; sys.modules['keras'] = None\n"
            "try:\n    import ladle.compat.keras\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "pip install ladle[keras]" in out.stdout, out.stderr
