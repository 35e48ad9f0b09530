"""The store writer: layouts, chunking, compression, streaming, append, annotations, attributes."""

import tracemalloc

import h5py
import hdf5plugin  # noqa: F401  (blosc filters for h5py)
import numpy as np
import pandas as pd
import pytest
import tables
from hypothesis import given, strategies as st

from ladle.sources.hdf5 import HDF5Source
from ladle.store import StoreWriter, default_chunk_rows, filters_for, write_store


@pytest.fixture
def columns():
    rng = np.random.default_rng(0)
    return {"data": rng.random((30, 4, 5)).astype(np.float32), "label": np.arange(30) % 3,
            "filename": np.array([f"clip_{i}.wav" for i in range(30)])}


@pytest.mark.parametrize("compression", ["blosc2:lz4", "zlib", "none"])
def test_a_table_store_reads_with_pytables_h5py_and_ketos_code(tmp_path, columns, compression):
    path = str(tmp_path / "s.h5")
    assert write_store(path, columns, compression=compression, progress=False) == 30
    with tables.open_file(path) as h5:
        t = h5.root.data
        assert t.colnames == ["id", "data", "label", "filename"]
        assert t.col("id").tolist() == list(range(30))  # ketos: id is the row number
        np.testing.assert_array_equal(t.col("data"), columns["data"])
        assert t.filters.complib == (None if compression == "none" else compression)
        ids = t.get_where_list("label == 1")  # a ketos-style query
        assert ids.tolist() == list(range(1, 30, 3))
    with h5py.File(path, "r") as f:
        ds = f["data"]
        np.testing.assert_array_equal(ds["data"], columns["data"])
        assert ds["filename"][3] == b"clip_3.wav"


def test_an_arrays_store_reads_with_h5py(tmp_path, columns):
    path = str(tmp_path / "a.h5")
    write_store(path, columns, layout="arrays", chunk_rows=8, progress=False)
    with h5py.File(path, "r") as f:
        assert sorted(f["data"]) == ["data", "filename", "label"]
        assert f["data/data"].chunks == (8, 4, 5)
        np.testing.assert_array_equal(f["data/label"][:], columns["label"])
    src = HDF5Source(path)
    assert src.read(np.array([29]))["filename"].tolist() == [b"clip_29.wav"]


def test_default_chunks_hold_about_a_mebibyte(tmp_path):
    assert default_chunk_rows(3 * 32 * 32 * 4) == 85
    assert default_chunk_rows(8) == 65536 and default_chunk_rows(8, expected_rows=10) == 10
    assert default_chunk_rows(10 << 20) == 1
    path = str(tmp_path / "c.h5")
    write_store(path, {"x": np.zeros((200, 3, 32, 32), np.float32)}, progress=False)
    with tables.open_file(path) as h5:
        assert h5.root.data.chunkshape == (85,)  # (4 + 12,288 bytes) x 85 rows ~ 1 MiB
    assert HDF5Source(path).block_size == 85


def test_compression_choices_and_errors():
    f = filters_for()
    assert (f.complib, f.complevel, f.shuffle) == ("blosc2:lz4", 5, True)
    assert filters_for("zlib").complevel == 1 and filters_for("zlib", 9).complevel == 9
    assert filters_for(None).complevel == 0 and filters_for("none", fletcher32=True).fletcher32
    with pytest.raises(ValueError, match="compression='gzip' is not one of 'none', 'zlib'"):
        filters_for("gzip")
    with pytest.raises(ValueError, match="complevel=12 must be between 1 and 9"):
        filters_for("zlib", 12)


def test_a_stream_of_samples_is_written_in_constant_memory(tmp_path):
    row = 32 * 1024  # 32 KiB per sample, 400 samples: 12.5 MiB in all
    samples = ({"x": np.full(row // 4, i, np.float32), "label": i % 7} for i in range(400))
    tracemalloc.start()
    n = write_store(str(tmp_path / "big.h5"), samples, chunk_rows=16, compression="none",
                    progress=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n == 400
    assert peak < 3 * 16 * row + (2 << 20), peak  # a few chunks, never the whole stream
    src = HDF5Source(str(tmp_path / "big.h5"))
    batch = src.read(np.array([399, 0]))
    assert batch["x"][:, 0].tolist() == [399, 0] and batch["label"].tolist() == [0, 0]


def test_progress_bar(tmp_path, capsys):
    write_store(str(tmp_path / "p.h5"), {"x": np.zeros((10, 2))}, progress=True)
    assert "rows" in capsys.readouterr().err


def test_tuple_samples_need_names(tmp_path):
    n = write_store(str(tmp_path / "t.h5"), iter([(np.zeros(2), 1), (np.ones(2), 0)]),
                    names=("data", "label"), progress=False)
    assert n == 2
    with pytest.raises(ValueError, match="sample 0 is a tuple of 2; pass names="):
        write_store(str(tmp_path / "u.h5"), iter([(np.zeros(2), 1)]), progress=False)


def test_bad_samples_name_the_sample_and_the_fix(tmp_path):
    def stream(bad):
        yield {"x": np.zeros(3), "label": 1}
        yield bad

    cases = [
        ({"x": np.zeros(4), "label": 1}, ValueError,
         r"sample 1: field 'x' has shape \(4,\), but the store's is \(3,\)"),
        ({"x": np.zeros(3)}, ValueError, r"sample 1: fields differ .* missing \['label'\]"),
        ({"x": np.zeros(3), "label": 1, "extra": 2}, ValueError, r"unexpected \['extra'\]"),
        ({"x": np.zeros(3), "label": 1.5}, ValueError, "values of dtype float64 do not fit"),
        ({"x": np.zeros(3), "label": [1, 2]}, ValueError, "has shape"),
        ({"x": np.zeros(3), "label": None}, TypeError, "holds Python objects"),
        ([1, 2], TypeError, "a sample must be a dict"),
    ]
    for bad, exc, match in cases:
        with pytest.raises(exc, match=match):
            write_store(str(tmp_path / "b.h5"), stream(bad), progress=False)
    with pytest.raises(ValueError, match="empty iterable"):
        write_store(str(tmp_path / "e.h5"), iter([]), progress=False)
    with pytest.raises(TypeError, match="must be an array, a dict of arrays"):
        write_store(str(tmp_path / "e.h5"), 5, progress=False)
    with pytest.raises(TypeError, match="dtype datetime64"):
        write_store(str(tmp_path / "d.h5"), {"t": np.zeros(2, "datetime64[s]")}, progress=False)
    with pytest.raises(ValueError, match="equal lengths"):
        write_store(str(tmp_path / "l.h5"), {"a": np.zeros(2), "b": np.zeros(3)}, progress=False)
    with pytest.raises(ValueError, match="node='data' must be an absolute node path"):
        StoreWriter(str(tmp_path / "n.h5"), node="data")
    with pytest.raises(FileNotFoundError, match="does not exist; create it"):
        StoreWriter(str(tmp_path / "no" / "dir.h5"))


def test_long_strings_in_a_stream(tmp_path):
    path = str(tmp_path / "s.h5")
    samples = [{"name": "a"}, {"name": "é" * 100}]  # 200 utf-8 bytes > the default 128
    with pytest.raises(ValueError, match="200-byte string; the column holds 128 bytes: pass "
                                         "string_size=200"):
        write_store(path, iter(samples), progress=False)
    write_store(path, iter(samples), string_size=200, progress=False)
    assert HDF5Source(path).read(np.array([1]))["name"][0].decode() == "é" * 100


def test_a_skippable_bad_sample_leaves_no_trace(tmp_path):
    with StoreWriter(str(tmp_path / "k.h5"), chunk_rows=2) as w:
        w.append_sample({"x": np.zeros(2), "label": 1})
        with pytest.raises(ValueError):
            w.append_sample({"x": np.zeros(5), "label": 2})
        w.append_sample({"x": np.ones(2), "label": 3})
    assert HDF5Source(str(tmp_path / "k.h5")).read(np.arange(2))["label"].tolist() == [1, 3]


def test_append_to_an_existing_store(tmp_path, columns):
    path = str(tmp_path / "s.h5")
    write_store(path, columns, chunk_rows=8, progress=False)
    more = {k: v[:5] for k, v in columns.items()}
    write_store(path, more, mode="a", progress=False)
    with tables.open_file(path) as h5:
        t = h5.root.data
        assert t.nrows == 35 and t.col("id").tolist() == list(range(35)) and t.chunkshape == (8,)
    with pytest.raises(ValueError, match=r"missing \['filename'\]"):
        write_store(path, {"data": columns["data"], "label": columns["label"]}, mode="a",
                    progress=False)
    with pytest.raises(ValueError, match="is a table; append with layout='table'"):
        write_store(path, columns, mode="a", layout="arrays", progress=False)
    with pytest.raises(ValueError, match="values of dtype int64 do not fit the column dtype uint8"):
        with tables.open_file(str(tmp_path / "k.h5"), "w") as h5:
            h5.create_table("/", "data", obj=np.zeros(1, [("id", "u4"), ("label", "u1")]))
        write_store(str(tmp_path / "k.h5"), {"label": np.array([300])}, mode="a", progress=False)
    arrays = str(tmp_path / "arr.h5")
    write_store(arrays, {"x": np.zeros((3, 2))}, layout="arrays", progress=False)
    write_store(arrays, {"x": np.ones((2, 2))}, layout="arrays", mode="a", progress=False)
    assert HDF5Source(arrays).read(np.arange(5))["x"][:, 0].tolist() == [0, 0, 0, 1, 1]


def test_annotations_and_attributes(tmp_path, columns):
    path = str(tmp_path / "s.h5")
    annot = pd.DataFrame({"data_index": [2, 0, 2], "label": [5, 6, 7], "start": [0.1, 0.2, 0.3]})
    write_store(path, columns, annotations=annot, progress=False,
                attrs={"class_names": ["cat", "dög"], "rate": 16000, "weights": [0.5, 1.5]})
    src = HDF5Source(path, annotations="/data_annot")
    ann = src.read(np.array([2, 1, 0]))["annotations"]
    assert [a["label"].tolist() for a in ann] == [[5, 7], [], [6]]
    attrs = src.attrs
    assert attrs["class_names"] == ["cat", "dög"] and attrs["rate"] == 16000
    assert attrs["weights"].tolist() == [0.5, 1.5]
    with h5py.File(path, "r") as f:  # plain h5py sees the attributes too
        assert [n.decode() for n in f["data"].attrs["class_names"]] == ["cat", "dög"]
    with pytest.raises(ValueError, match="data_index=30 is outside the 30 data rows written"):
        write_store(str(tmp_path / "b.h5"), columns, annotations={"data_index": [30], "label": [1]},
                    progress=False)
    with pytest.raises(ValueError, match="annotations need a data_index column"):
        write_store(str(tmp_path / "c.h5"), columns, annotations={"label": [1]}, progress=False)
    with pytest.raises(TypeError, match=r"attrs\['meta'\].* must be strings, numbers"):
        write_store(str(tmp_path / "d.h5"), columns, attrs={"meta": {"a": 1}}, progress=False)


def test_dataframes_structured_arrays_and_plain_arrays(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "yy"]})
    write_store(str(tmp_path / "f.h5"), frame, progress=False)
    batch = HDF5Source(str(tmp_path / "f.h5")).read(np.array([1]))
    assert batch["a"].tolist() == [2.0] and batch["b"].tolist() == [b"yy"]
    rec = np.zeros(3, [("p", "f4", (2,)), ("q", "i2")])
    write_store(str(tmp_path / "r.h5"), rec, progress=False)
    assert list(HDF5Source(str(tmp_path / "r.h5")).fields) == ["id", "p", "q"]
    write_store(str(tmp_path / "x.h5"), np.zeros((4, 2)), progress=False)
    assert list(HDF5Source(str(tmp_path / "x.h5")).fields) == ["id", "data"]


@given(n=st.integers(1, 60), chunk=st.integers(1, 20), layout=st.sampled_from(["table", "arrays"]),
       streamed=st.booleans())
def test_round_trip(tmp_path_factory, n, chunk, layout, streamed):
    path = str(tmp_path_factory.mktemp("rt") / "s.h5")
    x = np.arange(n * 3, dtype=np.int32).reshape(n, 3)
    y = np.arange(n) % 2
    data = ({"x": a, "y": b} for a, b in zip(x, y)) if streamed else {"x": x, "y": y}
    assert write_store(path, data, layout=layout, chunk_rows=chunk, progress=False) == n
    with HDF5Source(path) as src:
        assert len(src) == n and src.block_size == chunk
        back = src.read(np.arange(n)[::-1])
    np.testing.assert_array_equal(back["x"], x[::-1])
    np.testing.assert_array_equal(back["y"], y[::-1])


def test_a_failed_write_leaves_no_half_written_store(tmp_path):
    path = tmp_path / "half.h5"

    def samples():
        for i in range(50):
            yield {"x": np.zeros(3 if i < 40 else 4)}

    with pytest.raises(ValueError, match="sample 40"):
        write_store(str(path), samples(), chunk_rows=8, progress=False)
    assert not path.exists()
    write_store(str(path), {"x": np.zeros((2, 3))}, progress=False)
    with pytest.raises(ValueError, match="sample 0"):  # appending: the existing store stays
        write_store(str(path), iter([{"x": np.zeros(9)}]), mode="a", progress=False)
    assert len(HDF5Source(str(path))) == 2
