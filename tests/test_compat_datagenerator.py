"""ladle.compat.datagenerator: numblr datagenerator's API and documented behaviour (COMPAT.md
section 2), its README examples, its MNIST integration example (in miniature), and the absence of
its bugs."""

import functools
import http.server
import io
import itertools
import json
import threading

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

from httpserver import serve
from ladle.compat.datagenerator import (BatchDataEncoder, DataEncoder, FileDataEncoder,
                                        GeneratorDataSet, IdentityEncoder, IntToOneHotEncoder,
                                        LabelEncoder, LabelRecordEncoder, OneHotEncoder,
                                        OneHotRecordEncoder, RecordTargetEncoder, UrlDataEncoder,
                                        enrich_inventory, generator_for_files, generator_for_urls,
                                        inventory_from_csv, inventory_from_dict,
                                        inventory_from_records)
from ladle.compat.datagenerator.encoders import bind_target
from ladle.sources.inventory_io import SampleError


def frame(n=10, labels=("cat", "dog")):
    return pd.DataFrame({"id": [f"s{i}" for i in range(n)], "v": np.arange(n) * 10,
                         "target": [labels[i % len(labels)] for i in range(n)]})


def ref_batches(n, batch_size, epochs, truncate):
    """datagenerator's batches as row positions: each epoch in order, last partial batch dropped
    with truncate, one batch of everything for batch_size < 1."""
    if batch_size < 1:
        batch_size, truncate = n, False
    out = []
    for _ in range(epochs):
        for a in range(0, n, batch_size):
            if a + batch_size > n and truncate:
                break
            out.append(list(range(a, min(a + batch_size, n))))
    return out


# --------------------------------------------------------------------------- the data set
def test_inventory_must_be_a_dataframe():
    for bad in ([{"id": 1}], {"id": [1]}, np.arange(3)):
        with pytest.raises(ValueError, match="inventory must be a pandas DataFrame"):
            GeneratorDataSet(bad)
    ds = GeneratorDataSet(frame(7))
    assert ds.size == 7


@given(n=st.integers(1, 30), batch_size=st.integers(-1, 35), epochs=st.integers(0, 3),
       truncate=st.booleans(), seed=st.integers(0, 100))
def test_batches_follow_the_inventory_order_epoch_after_epoch(n, batch_size, epochs, truncate,
                                                              seed):
    inv = frame(n).sample(frac=1, random_state=seed)
    ds = GeneratorDataSet(inv, IdentityEncoder("v"), IdentityEncoder("id"))
    if truncate and batch_size > n:
        with pytest.raises(ValueError, match=f"batch_size={batch_size} is larger than the {n}"):
            ds.batches(batch_size=batch_size, epochs=epochs, truncate=truncate)
        return
    got = list(ds.batches(batch_size=batch_size, epochs=epochs, truncate=truncate))
    want = ref_batches(n, batch_size, epochs, truncate)
    assert [d.tolist() for d, _ in got] == [inv["v"].iloc[rows].tolist() for rows in want]
    assert [t.tolist() for _, t in got] == [inv["id"].iloc[rows].tolist() for rows in want]


def test_batches_are_endless_by_default_and_never_reshuffle():
    ds = GeneratorDataSet(frame(5), IdentityEncoder("v"), IdentityEncoder("id"))
    got = [d.tolist() for d, _ in itertools.islice(ds.batches(batch_size=2), 7)]
    assert got == [[0, 10], [20, 30]] * 3 + [[0, 10]]
    loose = [d.tolist() for d, _ in itertools.islice(ds.batches(batch_size=2, truncate=False), 4)]
    assert loose == [[0, 10], [20, 30], [40], [0, 10]]
    whole = [d.tolist() for d in itertools.islice(ds.data_batches(batch_size=0), 2)]
    assert whole == [[0, 10, 20, 30, 40]] * 2


def test_too_large_batch_fails_when_batches_is_called_not_at_next():
    ds = GeneratorDataSet(frame(10), IdentityEncoder("v"))
    for method in (ds.batches, ds.data_batches, ds.target_batches):
        with pytest.raises(ValueError, match="truncate=True drops every partial batch"):
            method(batch_size=11)
    assert [d.size for d in ds.data_batches(batch_size=11, epochs=1, truncate=False)] == [10]
    with pytest.raises(TypeError, match="batch_size=2.5 must be an integer"):
        ds.batches(batch_size=2.5)
    with pytest.raises(ValueError, match="epochs=-1 must be >= 0"):
        ds.batches(epochs=-1)
    with pytest.raises(ValueError, match="the inventory is empty"):
        GeneratorDataSet(frame(0)).batches()


def test_sort_and_explicit_shuffle():
    inv = frame(6)
    ds = GeneratorDataSet(inv, IdentityEncoder("v"))
    assert ds.sort("target", ascending=False) is ds
    assert ds.inventory["v"].tolist() == [10, 30, 50, 0, 20, 40]  # stable within equal keys
    assert inv["v"].tolist() == [0, 10, 20, 30, 40, 50]  # the caller's frame is untouched
    ds.sort(["target", "v"], ascending=[True, False])
    assert ds.inventory["v"].tolist() == [40, 20, 0, 50, 30, 10]
    assert ds.shuffle(random_state=4) is ds
    want = inv.sort_values(["target", "v"], ascending=[True, False]).sample(frac=1, random_state=4)
    assert ds.inventory["v"].tolist() == want["v"].tolist()
    epochs = [d.tolist() for d in ds.data_batches(batch_size=6, epochs=2)]
    assert epochs[0] == epochs[1] == want["v"].tolist()  # no reshuffle between epochs
    np.random.seed(5)
    ds.shuffle()
    np.random.seed(5)
    assert ds.inventory["v"].tolist() == want.sample(frac=1)["v"].tolist()  # global RNG, as pandas


def test_split_sizes_come_from_the_whole_inventory():
    ds = GeneratorDataSet(frame(10), IdentityEncoder("v"), LabelEncoder())
    train, val, test = ds.split(validation=0.2, test=0.3)
    assert (train.size, val.size, test.size) == (5, 2, 3)
    assert [p.inventory["v"].tolist() for p in (train, val, test)] == [
        [0, 10, 20, 30, 40], [50, 60], [70, 80, 90]]
    assert train.data_encoder is ds.data_encoder and test.target_encoder is ds.target_encoder
    assert [p.size for p in ds.split()] == [8, 2, 0]
    assert [p.size for p in GeneratorDataSet(frame(100)).split(0.29, 0.07)] == [64, 29, 7]
    with pytest.raises(ValueError, match="take more than the whole inventory of 10"):
        ds.split(validation=0.6, test=0.5)
    with pytest.raises(ValueError, match="validation=1.5 must be a fraction"):
        ds.split(validation=1.5)
    with pytest.raises(TypeError, match="test=True must be a fraction"):
        ds.split(test=True)


@given(n=st.integers(0, 200), validation=st.floats(0, 1), test=st.floats(0, 1))
def test_split_parts_are_consecutive_and_cover_the_inventory(n, validation, test):
    ds = GeneratorDataSet(pd.DataFrame({"v": np.arange(n)}))
    n_val, n_test = int(np.floor(n * validation + 1e-9)), int(np.floor(n * test + 1e-9))
    if n_val + n_test > n:
        with pytest.raises(ValueError):
            ds.split(validation, test)
        return
    parts = ds.split(validation, test)
    assert [p.size for p in parts] == [n - n_val - n_test, n_val, n_test]
    assert np.concatenate([p.inventory["v"].to_numpy() for p in parts]).tolist() == list(range(n))


# --------------------------------------------------------------------------- encoding protocol
class Recorder(DataEncoder):
    def __init__(self):
        self.fitted_on, self.finalized = None, 0

    def fit(self, inventory):
        self.fitted_on = len(inventory)

    def transform(self, record):
        return np.full(2, record.v)  # records read as attributes too

    def finalize_batch(self, records):
        self.finalized += 1
        return records


def test_encoders_follow_datagenerator_protocol():
    class Both(BatchDataEncoder):
        def transform_batch(self, records):
            assert isinstance(records, pd.DataFrame)
            return records["v"].to_numpy() + 1

        def transform(self, record):  # never used: transform_batch wins
            raise AssertionError

    seen = []

    def target(frame_slice):
        seen.append(frame_slice)
        return frame_slice["v"].to_numpy() * -1

    rec = Recorder()
    ds = GeneratorDataSet(frame(4), [rec, Both(), lambda r: r["id"]], target)
    assert ds.fit_encoders() is ds and rec.fitted_on == 4
    (data, targets), = ds.batches(batch_size=3, epochs=1)
    assert isinstance(data, list) and len(data) == 3
    assert data[0].tolist() == [[0, 0], [10, 10], [20, 20]] and rec.finalized == 1
    assert data[1].tolist() == [1, 11, 21] and data[2].tolist() == ["s0", "s1", "s2"]
    assert targets.tolist() == [0, -10, -20]
    assert isinstance(seen[0], pd.DataFrame) and seen[0]["id"].tolist() == ["s0", "s1", "s2"]
    # a per-record target encoder (a DataEncoder) gets each record
    per_record = GeneratorDataSet(frame(3), None, IdentityEncoder("v")).targets()
    assert per_record.tolist() == [0, 10, 20]


def test_finalize_batch_pads_ragged_samples_and_unpadded_ones_are_a_clear_error():
    class Ragged(DataEncoder):
        def transform(self, record):
            return np.ones(len(record["id"]) - 1)

    class Padded(Ragged):
        def finalize_batch(self, records):
            width = max(len(r) for r in records)
            return [np.pad(r, (0, width - len(r))) for r in records]

    inv = pd.DataFrame({"id": ["ab", "abcd"]})
    assert GeneratorDataSet(inv, Padded()).data().tolist() == [[1, 0, 0], [1, 1, 1]]
    with pytest.raises(ValueError, match="different shapes.*finalize_batch"):
        GeneratorDataSet(inv, Ragged()).data()


def test_records_and_out_of_order_reads():
    from ladle.compat.datagenerator._encoding import records
    from ladle.compat.datagenerator.dataset import _FrameSource

    with pytest.raises(ValueError, match=r"repeats the column names \['a'\].*rename"):
        records(pd.DataFrame([[1, 2, 3]], columns=["a", "a", "b"]))
    rec = records(frame(2))[1]
    assert (rec.id, rec["v"], rec.target) == ("s1", 10, "dog")
    with pytest.raises(AttributeError, match="no column 'nope'; its columns are"):
        _ = rec.nope
    source = _FrameSource(frame(5), [IdentityEncoder("v")], True, IdentityEncoder("id"),
                          ("data", "targets"))
    out = source.read(np.array([4, 0, 2]))
    assert out["data"].tolist() == [40, 0, 20] and out["targets"].tolist() == ["s4", "s0", "s2"]


def test_data_and_target_batches_encode_only_their_part():
    def boom(_):
        raise AssertionError("must not be called")

    ds = GeneratorDataSet(frame(4), IdentityEncoder("v"), boom)
    assert [d.tolist() for d in ds.data_batches(batch_size=2, epochs=1)] == [[0, 10], [20, 30]]
    ds = GeneratorDataSet(frame(4), boom, IdentityEncoder("v"))
    assert [t.tolist() for t in ds.target_batches(batch_size=4, epochs=1)] == [[0, 10, 20, 30]]
    plain = GeneratorDataSet(frame(3))
    data, targets = next(plain.batches(batch_size=2))
    assert isinstance(data, pd.DataFrame) and data["id"].tolist() == ["s0", "s1"]
    assert targets is None and plain.targets() is None
    assert plain.data()["v"].tolist() == [0, 10, 20]


def test_an_encoder_error_is_raised_as_itself_with_the_batch_named():
    def bad(record):
        if record["v"] == 30:
            raise KeyError("no such sample")
        return record["v"]

    gen = GeneratorDataSet(frame(6), bad).data_batches(batch_size=2)
    assert next(gen).tolist() == [0, 10]
    with pytest.raises(KeyError, match="no such sample") as info:
        next(gen)
    assert "batch 1 of epoch 0 (rows [2, 3])" in "".join(getattr(info.value, "__notes__", []))


def test_workers_prepare_the_same_batches():
    ds = GeneratorDataSet(frame(23), [Recorder(), IdentityEncoder("id")], LabelEncoder())
    ds.fit_encoders()
    serial = list(ds.batches(batch_size=4, epochs=2))
    threaded = list(ds.batches(batch_size=4, epochs=2, workers=3))
    assert len(serial) == len(threaded) == 10
    for (d1, t1), (d2, t2) in zip(serial, threaded):
        assert all(np.array_equal(a, b) for a, b in zip(d1, d2)) and np.array_equal(t1, t2)


def test_numpy2_stacking_of_encoded_samples():
    """datagenerator built batches with np.array(..., copy=False), which NumPy 2 refuses."""
    assert np.lib.NumpyVersion(np.__version__) >= "2.0.0"
    ds = GeneratorDataSet(frame(4), lambda r: [r["v"], r["v"] + 1],
                          IntToOneHotEncoder("v", num_classes=31))
    data, targets = next(ds.batches(batch_size=4))
    assert data.shape == (4, 2) and targets.shape == (4, 31) and targets[3, 30] == 1


# --------------------------------------------------------------------------- encoders
def test_base_encoders():
    class Upper(DataEncoder):
        def transform(self, record):
            return record["id"].upper()

    assert Upper()({"id": "a"}) == "A" and Upper().finalize_batch([1]) == [1]
    with pytest.raises(NotImplementedError, match="must implement transform"):
        DataEncoder()({"id": 1})
    with pytest.raises(NotImplementedError, match="must implement transform_batch"):
        BatchDataEncoder().transform_batch(frame(1))
    with pytest.raises(TypeError, match="is not callable"):
        GeneratorDataSet(frame(2), object()).data()


def test_encoders_read_the_column_their_target_names():
    """datagenerator's encoders ignored target= and always read 'target'."""
    inv = pd.DataFrame({"target": ["x", "x", "y"], "label": ["b", "a", "c"],
                        "digit": [2, 0, 1]})
    assert LabelEncoder("label").fit(inv).transform_batch(inv).tolist() == [1, 0, 2]
    assert OneHotEncoder(target="label").fit(inv).transform(inv).argmax(1).tolist() == [1, 0, 2]
    assert int(LabelRecordEncoder("label").fit(inv)({"label": "c"})) == 2
    assert OneHotRecordEncoder("label").fit(inv)({"label": "a"}).tolist() == [1.0, 0.0, 0.0]
    assert IntToOneHotEncoder("digit").fit(inv).transform(inv).argmax(1).tolist() == [2, 0, 1]
    assert IdentityEncoder("label")({"label": "q"}) == "q"
    assert RecordTargetEncoder(target="digit").transform_batch(inv).tolist() == [2, 0, 1]
    assert LabelEncoder().fit(inv).transform(inv).tolist() == [0, 0, 1]
    with pytest.raises(KeyError, match="LabelEncoder\\(target='nope'\\).*no column 'nope'"):
        LabelEncoder("nope").fit(inv)
    with pytest.raises(KeyError, match="IdentityEncoder\\(target='nope'\\): the record"):
        IdentityEncoder("nope")({"label": 1})


def test_label_encoders_are_dense_sorted_and_strict():
    """datagenerator's OneHotEncoder passed sparse= to scikit-learn, a TypeError since 1.4."""
    inv = frame(5, labels=("emu", "cat", "dog"))
    enc = OneHotEncoder().fit(inv)
    out = enc.transform_batch(inv)
    assert type(out) is np.ndarray and out.dtype == np.float32 and out.shape == (5, 3)
    assert enc.classes_.tolist() == ["cat", "dog", "emu"]
    assert enc.inverse_transform(out).tolist() == inv["target"].tolist()
    assert enc({"target": "dog"}).tolist() == [0.0, 1.0, 0.0]
    assert enc(pd.Series(["emu"])).tolist() == [[0.0, 0.0, 1.0]]
    label = LabelEncoder().fit(inv)
    assert label.transform(["emu", "cat"]).tolist() == [2, 0]
    assert label.inverse_transform([1]).tolist() == ["dog"]
    with pytest.raises(ValueError, match="unknown label 'owl' in row 1"):
        label.transform(pd.DataFrame({"target": ["cat", "owl"]}))
    with pytest.raises(RuntimeError, match=r"not fitted: call dataset.fit_encoders\(\)"):
        LabelEncoder().transform(inv)
    fixed = LabelEncoder(classes=["z", "a"])
    GeneratorDataSet(pd.DataFrame({"target": ["a"]}), None, fixed).fit_encoders()
    assert fixed.classes_.tolist() == ["z", "a"] and fixed.transform(["a"]).tolist() == [1]


def test_int_to_one_hot_encoder():
    inv = pd.DataFrame({"target": [3, 0, 1]})
    enc = IntToOneHotEncoder()
    with pytest.raises(RuntimeError, match="not fitted"):
        enc.transform(inv)
    assert enc.fit(inv).num_classes == 4 and enc(inv).shape == (3, 4)
    assert IntToOneHotEncoder(num_classes=6).fit(inv).num_classes == 6
    with pytest.raises(ValueError, match=r"class id 9 .* outside \[0, 4\)"):
        enc.transform([9])
    with pytest.raises(ValueError, match="class id -1 .* is negative"):
        enc.transform([-1])
    with pytest.raises(TypeError, match="needs integer class ids"):
        enc.transform(["a"])
    with pytest.raises(ValueError, match="num_classes=0 must be >= 1"):
        IntToOneHotEncoder(num_classes=0)


def test_record_target_encoder_applies_a_record_encoder_to_each_record():
    inv = frame(4, labels=("b", "a"))
    enc = RecordTargetEncoder(LabelRecordEncoder())
    ds = GeneratorDataSet(inv, IdentityEncoder("v"), enc).fit_encoders()
    assert ds.targets().tolist() == [1, 0, 1, 0]
    with pytest.raises(TypeError, match="must encode a record"):
        RecordTargetEncoder(42)


def test_bind_target_points_default_encoders_to_the_factory_column():
    enc, fixed = LabelEncoder(), LabelEncoder("mine")
    wrapped = RecordTargetEncoder(OneHotRecordEncoder())
    for e in (enc, fixed, wrapped):
        bind_target(e, "label")
    assert (enc.target, fixed.target, wrapped.encoder.target) == ("label", "mine", "label")


# --------------------------------------------------------------------------- files
@pytest.fixture
def files(tmp_path):
    """Five text files ``<id>.txt`` holding "i i+1", an inventory CSV and a binary file."""
    inv = pd.DataFrame({"file_name": [f"f{i}" for i in range(5)], "label": list("abcab")})
    for i, name in enumerate(inv["file_name"]):
        (tmp_path / f"{name}.txt").write_text(f"{i} {i + 1}")
    inv.to_csv(tmp_path / "inventory.csv", index=False)
    return tmp_path, inv


def read_numbers(handle):
    return np.array([float(v) for v in handle.read().split()], dtype=np.float32)


def test_file_data_encoder(files, tmp_path):
    root, inv = files
    enc = FileDataEncoder(read_numbers, root, lambda i: i + ".txt", id="file_name")
    assert enc({"file_name": "f3"}).tolist() == [3.0, 4.0]
    assert enc.get_size({"file_name": "f3"}) == 3
    (root / "7").write_bytes(b"\x00\x01")
    raw = FileDataEncoder(None, root, binary=True)  # id_mapper=None: the id itself
    assert raw({"id": 7}) == b"\x00\x01" and raw.path({"id": 7}) == str(root / "7")
    with pytest.raises(FileNotFoundError, match=r"record 'f9': no file .*f9.txt.*id_mapper"):
        enc({"file_name": "f9"})
    with pytest.raises(KeyError, match="no column 'file_name'"):
        enc({"id": "f1"})

    class Sized:
        def __call__(self, handle):
            return handle.read()

        def fit(self, inventory):
            self.fitted = len(inventory)

        def finalize_batch(self, samples):
            return [s.upper() for s in samples]

        def get_size(self):
            return 2

    inner = Sized()
    ds = GeneratorDataSet(inv, FileDataEncoder(inner, root, lambda i: i + ".txt",
                                               id="file_name")).fit_encoders()
    assert inner.fitted == 5 and ds.data().tolist()[0] == "0 1"
    assert ds.data_encoder.finalize_batch(["a"]) == ["A"] and ds.data_encoder.get_size() == 2
    with pytest.raises(TypeError, match="has no get_size"):
        enc.get_size()


def test_file_data_encoder_reads_fsspec_urls():
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/dg/a.bin", b"xyz")
    enc = FileDataEncoder(lambda f: f.read(), "memory://dg", binary=True)
    assert enc({"id": "a.bin"}) == b"xyz" and enc.get_size({"id": "a.bin"}) == 3


def test_generator_for_files_readme_forms(files):
    """The README: the short form and the full form (id_mapper, id, target, binary)."""
    root, inv = files
    short_inv = inv.rename(columns={"file_name": "id", "label": "target"})
    short_inv.assign(id=short_inv["id"] + ".txt").to_csv(root / "short.csv", index=False)
    ds = generator_for_files(str(root / "short.csv"), str(root), read_numbers, LabelEncoder())
    data, targets = next(ds.batches(batch_size=5))
    assert data.tolist() == [[i, i + 1] for i in range(5)] and targets.tolist() == [0, 1, 2, 0, 1]

    ds = generator_for_files(root / "inventory.csv", root, read_numbers, OneHotEncoder(),
                             id_mapper=lambda id: id + ".txt", id="file_name", target="label",
                             binary=False)
    assert ds.target_encoder.target == "label"
    data, targets = next(ds.batches(batch_size=2))
    assert data.tolist() == [[0, 1], [1, 2]] and targets.tolist() == [[1, 0, 0], [0, 1, 0]]
    with pytest.raises(ValueError, match="target='label' differs from the target encoder's"):
        generator_for_files(root / "inventory.csv", root, read_numbers, LabelEncoder("x"),
                            id="file_name", target="label")
    with pytest.raises(ValueError, match="no column 'id'"):
        generator_for_files(root / "inventory.csv", root, read_numbers, LabelEncoder())


# --------------------------------------------------------------------------- URLs
@pytest.fixture
def site(tmp_path):
    for i in range(4):
        (tmp_path / f"t{i}.txt").write_text(f"text {i}")
        (tmp_path / f"t{i}.json").write_text(json.dumps({"value": [i, i * 2]}))
    with serve(tmp_path) as server:
        yield server


def test_url_data_encoder_types_and_joins(site):
    text = UrlDataEncoder(base_url=site.url + "/", id_mapper=lambda i: f"t{i}.txt")
    assert text({"id": 2}) == "text 2"
    as_json = UrlDataEncoder(lambda doc: np.asarray(doc["value"]), site.url + "/",
                             lambda i: f"t{i}.json", type="json")
    assert as_json({"id": 3}).tolist() == [3, 6]
    binary = UrlDataEncoder(None, site.url + "/", type="binary")  # id_mapper=None: the id itself
    assert binary({"id": "t1.txt"}) == b"text 1"
    assert UrlDataEncoder(base_url=site.url + "/sub/x").url({"id": "a"}) == site.url + "/sub/a"
    assert UrlDataEncoder().url({"id": site.url + "/t0.txt"}) == site.url + "/t0.txt"
    with pytest.raises(ValueError, match="type='xml' is not one of"):
        UrlDataEncoder(type="xml")


def test_url_batches_are_fetched_concurrently_once_each(site):
    inv = pd.DataFrame({"id": [0, 1, 2, 3, 1], "target": list("abcda")})
    enc = UrlDataEncoder(lambda text: text.upper(), site.url + "/", lambda i: f"t{i}.txt")
    ds = GeneratorDataSet(inv, enc, LabelEncoder()).fit_encoders()
    data, targets = next(ds.batches(batch_size=5))
    assert data.tolist() == ["TEXT 0", "TEXT 1", "TEXT 2", "TEXT 3", "TEXT 1"]
    assert site.hits["/t1.txt"] == 1 and targets.tolist() == [0, 1, 2, 3, 0]

    class Own(UrlDataEncoder):  # a subclass's own transform is honoured in batches
        def transform(self, record):
            return "own " + super().transform(record)

    own = GeneratorDataSet(inv.iloc[:2], Own(base_url=site.url + "/",
                                             id_mapper=lambda i: f"t{i}.txt")).data()
    assert own.tolist() == ["own text 0", "own text 1"]


def test_url_errors_name_the_record_and_url(site):
    inv = pd.DataFrame({"id": ["t0.txt", "missing.txt"]})
    ds = GeneratorDataSet(inv, UrlDataEncoder(base_url=site.url + "/"))
    with pytest.raises(SampleError, match=r"row 1 \(id 'missing.txt'\): cannot read .*missing.txt"):
        ds.data()
    with pytest.raises(RuntimeError, match="record with id 'x.txt': cannot read"):
        UrlDataEncoder(base_url=site.url + "/")({"id": "x.txt"})
    broken = UrlDataEncoder(base_url=site.url + "/", type="json")
    with pytest.raises(SampleError, match="row 0 .*t0.txt.*JSONDecodeError"):
        GeneratorDataSet(inv.iloc[:1], broken).data()


def test_url_headers_are_sent(tmp_path):
    (tmp_path / "a.txt").write_text("A")
    seen = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - http.server naming
            seen.append(self.headers.get("X-Token"))
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(Handler, directory=str(tmp_path)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        enc = UrlDataEncoder(base_url=url, headers={"X-Token": "secret"})
        assert enc({"id": "a.txt"}) == "A" and seen == ["secret"]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_generator_for_urls_readme_forms(site, tmp_path):
    """datagenerator's generator_for_urls could not be used at all; both README forms work."""
    pd.DataFrame({"id": ["t0.txt", "t1.txt"], "target": ["x", "y"]}).to_csv(
        tmp_path / "inv.csv", index=False)
    ds = generator_for_urls(tmp_path / "inv.csv", site.url + "/", lambda t: len(t), LabelEncoder())
    data, targets = next(ds.batches(batch_size=2))
    assert data.tolist() == [6, 6] and targets.tolist() == [0, 1]

    pd.DataFrame({"file_name": ["t2", "t3"], "label": ["b", "a"]}).to_csv(tmp_path / "full.csv",
                                                                         index=False)
    ds = generator_for_urls(tmp_path / "full.csv", site.url + "/", lambda b: b[-1:], LabelEncoder(),
                            id_mapper=lambda id: id + ".txt", id="file_name", target="label",
                            binary=True)
    data, targets = next(ds.batches(batch_size=2))
    assert data.tolist() == [b"2", b"3"] and targets.tolist() == [1, 0]


# --------------------------------------------------------------------------- factories
def test_inventory_factories():
    csv = inventory_from_csv(io.StringIO("id,target\na,1\nb,2\n"))
    assert csv.to_dict("list") == {"id": ["a", "b"], "target": [1, 2]}
    recs = inventory_from_records([{"id": "a", "target": 1}, {"id": "b", "target": 2}])
    assert recs.equals(csv)
    assert inventory_from_records([("a", 1)], columns=["id", "target"]).shape == (1, 2)
    assert inventory_from_dict({"id": ["a", "b"], "target": [1, 2]}).equals(csv)
    assert inventory_from_dict({"a": 1, "b": 2}).equals(csv)
    assert inventory_from_dict({"a": 1}, id="file", target="label").columns.tolist() == [
        "file", "label"]
    with pytest.raises(TypeError, match="data must be a dict"):
        inventory_from_dict([("a", 1)])


def test_enrich_inventory():
    inv = frame(3)
    out = enrich_inventory(inv, lambda r: {"double": r["v"] * 2, "name": r.id.upper()},
                           odd=lambda r: r["v"] % 20 == 10)
    assert out["double"].tolist() == [0, 20, 40] and out["name"].tolist() == ["S0", "S1", "S2"]
    assert out["odd"].tolist() == [False, True, False] and "double" not in inv
    with pytest.raises(ValueError, match="give enricher="):
        enrich_inventory(inv)
    with pytest.raises(ValueError, match="must be a pandas DataFrame"):
        enrich_inventory([1], lambda r: {})


# --------------------------------------------------------------------------- integration example
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy")
@pytest.mark.filterwarnings("ignore:`shuffle=True` was passed")
def test_mnist_example_in_miniature(tmp_path):
    """The repository's MNIST example: each digit exported to a text file, an inventory of the
    files and their digits, a file-based data set with a one-hot target encoder, a Keras model
    trained with the data set's generators."""
    import keras
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = digits.data[:240], digits.target[:240]
    data_dir = tmp_path / "digits"
    data_dir.mkdir()
    for i, row in enumerate(x):
        (data_dir / f"{i}.txt").write_text(" ".join(str(int(v)) for v in row))
    pd.DataFrame({"id": range(len(y)), "target": y}).to_csv(tmp_path / "inventory.csv", index=False)

    class DigitEncoder(DataEncoder):
        def transform(self, handle):
            return np.array(handle.read().split(), dtype=np.float32) / 16.0

        def get_size(self):
            return 64

    data_set = generator_for_files(tmp_path / "inventory.csv", data_dir, DigitEncoder(),
                                   OneHotEncoder(), id_mapper=lambda id: f"{id}.txt")
    train, validation, test = data_set.shuffle(random_state=0).split(validation=0.2, test=0.1)
    assert (train.size, validation.size, test.size) == (168, 48, 24)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((data_set.data_encoder.get_size(),)),
                              keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "categorical_crossentropy", metrics=["accuracy"])
    batch_size = 16
    history = model.fit(train.batches(batch_size), steps_per_epoch=train.size // batch_size,
                        validation_data=validation.batches(batch_size),
                        validation_steps=validation.size // batch_size, epochs=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    _, accuracy = model.evaluate(test.data(), test.targets(), verbose=0)
    assert test.targets().shape == (24, 10) and accuracy > 0.6
    np.testing.assert_allclose(test.data(), x[test.inventory["id"].to_numpy()] / 16.0)
