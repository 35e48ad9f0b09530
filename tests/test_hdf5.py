"""HDF5Source on stores written here in the ketos layout with plain PyTables."""

import gc
import multiprocessing as mp
import os
import pickle
import re

import numpy as np
import pytest
import tables
from hypothesis import given, strategies as st

from ladle import Loader
from ladle.sources.hdf5 import HDF5Source, MissingNodeError, StoreError

KETOS_FILTERS = tables.Filters(complevel=1, fletcher32=True)


class DataRow(tables.IsDescription):  # ketos' data table, spectrograms 12x12
    id = tables.UInt32Col(pos=0)
    data = tables.Float32Col(shape=(12, 12), pos=1)
    filename = tables.StringCol(100, pos=2)
    offset = tables.Float64Col(pos=3)


class AnnotRow(tables.IsDescription):  # ketos' annotation table
    data_index = tables.UInt32Col(pos=0)
    label = tables.UInt8Col(pos=1)
    start = tables.Float64Col(pos=2)
    end = tables.Float64Col(pos=3)


class LabeledRow(tables.IsDescription):
    id = tables.UInt32Col(pos=0)
    data = tables.Float32Col(shape=(4, 4), pos=1)
    label = tables.UInt8Col(pos=2)


class TwoDataRow(tables.IsDescription):
    id = tables.UInt32Col(pos=0)
    spec = tables.Float32Col(shape=(4, 6), pos=1)
    gamma = tables.Float64Col(shape=(3,), pos=2)
    label = tables.UInt8Col(pos=3)


def spec(i):
    return np.full((12, 12), i, np.float32) + np.arange(144, dtype=np.float32).reshape(12, 12) / 1e3


@pytest.fixture(scope="module")
def ketos(tmp_path_factory):
    """11 spectrograms (ketos' 11x_same_spec) with two annotations each (labels 2 and 3)."""
    path = str(tmp_path_factory.mktemp("ketos") / "11x_same_spec.h5")
    with tables.open_file(path, "w") as h5:
        group = h5.create_group("/", "group_1")
        data = h5.create_table(group, "table_data", DataRow, filters=KETOS_FILTERS, chunkshape=(4,))
        annot = h5.create_table(group, "table_annot", AnnotRow, filters=KETOS_FILTERS)
        for i in range(11):
            data.append([(i, spec(i), f"file_{i}.wav".encode(), 0.5 * i)])
            annot.append([(i, 2, 1.0 + i, 2.0 + i), (i, 3, 5.0 + i, 6.0 + i)])
    return path


@pytest.fixture(scope="module")
def labeled(tmp_path_factory):
    """20 rows: labels 1 x 10 then 0 x 10; an annotation table where some instances have none."""
    path = str(tmp_path_factory.mktemp("labeled") / "labeled.h5")
    with tables.open_file(path, "w") as h5:
        t = h5.create_table("/train", "data", LabeledRow, filters=KETOS_FILTERS, createparents=True,
                            chunkshape=(8,))
        t.append([(i, np.full((4, 4), i, np.float32), 1 if i < 10 else 0) for i in range(20)])
        a = h5.create_table("/train", "annot", AnnotRow, filters=KETOS_FILTERS)
        # instances 0, 3, 3, 3, 7 and 19 (given out of order); others have none
        a.append([(3, 1, 0.1, 0.2), (0, 4, 0.0, 1.0), (19, 9, 9.0, 9.5), (3, 2, 0.3, 0.4),
                  (7, 5, 0.7, 0.8), (3, 0, 0.5, 0.6)])
        two = h5.create_table("/", "two", TwoDataRow, filters=KETOS_FILTERS)
        two.append([(i, np.full((4, 6), i, np.float32), np.arange(3) + i, i % 2) for i in range(6)])
    return path


@pytest.fixture(scope="module")
def arrays(tmp_path_factory):
    """Array nodes: a group of CArray + EArray (chunked), a plain Array, and odd nodes."""
    path = str(tmp_path_factory.mktemp("arrays") / "arrays.h5")
    x = np.arange(50 * 6, dtype=np.float32).reshape(50, 2, 3)
    y = np.arange(50) % 5
    with tables.open_file(path, "w") as h5:
        g = h5.create_group("/", "data")
        h5.create_carray(g, "x", obj=x, chunkshape=(7, 2, 3))
        e = h5.create_earray(g, "y", atom=tables.Int64Atom(), shape=(0,), chunkshape=(7,),
                             filters=KETOS_FILTERS)
        e.append(y)
        h5.create_array("/", "plain", obj=x)
        h5.create_array("/", "short", obj=np.arange(10))
        h5.create_vlarray("/", "ragged", atom=tables.Int32Atom()).append([1, 2])
        h5.create_table("/mixed", "t", LabeledRow, createparents=True)
        h5.create_earray("/", "sideways", atom=tables.Float32Atom(), shape=(3, 0)).append(
            np.zeros((3, 5), np.float32))
        h5.create_array("/", "scalar", obj=np.float64(1.5))
        h5.root.data._v_attrs["class_names"] = np.array([b"zero", b"one"])
    return path, x, y


# ------------------------------------------------------------------------ ketos layout


def test_ketos_table_with_annotation_table(ketos):
    src = HDF5Source(ketos, "/group_1/table_data", annotations="/group_1/table_annot")
    assert len(src) == 11
    assert src.fields["data"].shape == (12, 12) and src.fields["data"].dtype == np.float32
    assert list(src.fields) == ["id", "data", "filename", "offset", "annotations"]
    batch = src.read(np.array([10, 0, 5]))
    np.testing.assert_array_equal(batch["data"], np.stack([spec(10), spec(0), spec(5)]))
    assert batch["filename"].tolist() == [b"file_10.wav", b"file_0.wav", b"file_5.wav"]
    assert batch["id"].tolist() == [10, 0, 5]
    ann = batch["annotations"]
    assert ann.dtype == object and len(ann) == 3
    assert [a["label"].tolist() for a in ann] == [[2, 3]] * 3
    assert ann[0]["start"].tolist() == [11.0, 15.0]
    assert ann[0].dtype.names == ("label", "start", "end")
    src.close()


def test_ketos_batches_through_a_loader(ketos):
    src = HDF5Source(ketos, "/group_1/table_data", annotations="/group_1/table_annot",
                     annotation_fields=["label"])
    loader = Loader(src, batch_size=3, last_batch="merge", epochs=2)
    batches = list(loader)
    assert [b.indices.tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9, 10]] * 2
    assert batches[2]["data"].shape == (5, 12, 12)
    assert [a["label"].tolist() for a in batches[0]["annotations"]] == [[2, 3]] * 3
    assert batches[0]["annotations"][0].dtype.names == ("label",)


def test_an_open_table_is_used_and_left_open(ketos):
    with tables.open_file(ketos) as h5:
        table = h5.root.group_1.table_data
        src = HDF5Source(table)
        assert src.node == "/group_1/table_data" and src._state.h5 is h5
        np.testing.assert_array_equal(src.read(np.array([4]))["data"][0], spec(4))
        src.close()
        assert h5.isopen  # the caller's file stays open
        clone = pickle.loads(pickle.dumps(src))  # travels as a path
        np.testing.assert_array_equal(clone.read(np.array([4]))["data"][0], spec(4))
        with pytest.raises(ValueError, match="give one or the other"):
            HDF5Source(table, node="/x")


# ------------------------------------------------------------------------ where


def test_where_selects_rows(labeled):
    ones = HDF5Source(labeled, "/train/data", where="label == 1")
    zeros = HDF5Source(labeled, "/train/data", where="label == 0")
    assert len(ones) == len(zeros) == 10
    assert ones.rows.tolist() == list(range(10)) and zeros.rows.tolist() == list(range(10, 20))
    batch = zeros.read(np.array([9, 0]))
    assert batch["id"].tolist() == [19, 10] and batch["label"].tolist() == [0, 0]
    np.testing.assert_array_equal(batch["data"][0], np.full((4, 4), 19, np.float32))
    both = HDF5Source(labeled, "/train/data", where="(label == 0) & (id > 16)")
    assert both.rows.tolist() == [17, 18, 19]


@pytest.mark.parametrize("query", ["label ===", "nosuchcolumn == 1", "label +"])
def test_a_bad_query_is_a_clear_error_showing_it(labeled, query):
    message = f"where={query!r} is not a valid PyTables query"
    with pytest.raises(ValueError, match=re.escape(message)):
        HDF5Source(labeled, "/train/data", where=query)


def test_where_selecting_nothing_or_on_arrays_is_refused(labeled, arrays):
    with pytest.raises(ValueError, match="selects none of the 20 rows"):
        HDF5Source(labeled, "/train/data", where="label == 7")
    with pytest.raises(ValueError, match="needs a table node"):
        HDF5Source(arrays[0], "/data", where="y == 1")
    with pytest.raises(TypeError, match="must be a PyTables query string"):
        HDF5Source(labeled, "/train/data", where=1)


# ------------------------------------------------------------------------ annotations


def test_instances_without_annotations_get_empty_entries(labeled):
    src = HDF5Source(labeled, "/train/data", annotations="/train/annot", annotations_field="ann")
    ann = src.read(np.array([3, 1, 0, 19, 7, 3]))["ann"]
    assert [a["label"].tolist() for a in ann] == [[1, 2, 0], [], [4], [9], [5], [1, 2, 0]]
    assert ann[1].dtype == ann[0].dtype and ann[1].shape == (0,)
    with_where = HDF5Source(labeled, "/train/data", where="label == 0", annotations="/train/annot")
    ann = with_where.read(np.array([9, 0]))["annotations"]
    assert [a["label"].tolist() for a in ann] == [[9], []]


def test_join_matches_a_naive_join_for_random_tables(tmp_path):
    rng = np.random.default_rng(0)
    n, m = 40, 300
    di = rng.integers(0, n, m)
    path = str(tmp_path / "a.h5")
    with tables.open_file(path, "w") as h5:
        h5.create_table("/", "data", obj=np.zeros(n, [("id", "u4")]))
        h5.create_table("/", "annot", obj=np.rec.fromarrays([di, np.arange(m)],
                                                            names="data_index,k"))
    src = HDF5Source(path, annotations="/annot")
    idx = rng.integers(0, n, 100)
    got = src.read(idx)["annotations"]
    for row, a in zip(idx, got):
        assert a["k"].tolist() == np.flatnonzero(di == row).tolist()


def test_bad_annotation_tables_are_refused(tmp_path, labeled):
    path = str(tmp_path / "bad.h5")
    with tables.open_file(path, "w") as h5:
        h5.create_table("/", "data", obj=np.zeros(3, [("id", "u4")]))
        h5.create_table("/", "nokey", obj=np.zeros(2, [("label", "u1")]))
        h5.create_table("/", "outside", obj=np.array([(0, 1), (5, 1)], [("data_index", "i8"),
                                                                        ("label", "u1")]))
        h5.create_array("/", "arr", obj=np.zeros(3))
    with pytest.raises(ValueError, match="no 'data_index' column"):
        HDF5Source(path, annotations="/nokey")
    with pytest.raises(ValueError, match=r"1 annotation\(s\) point outside the data table "
                                         r"\(data_index=5, the table has 3 rows\)"):
        HDF5Source(path, annotations="/outside")
    with pytest.raises(ValueError, match="must be a table with a data_index column"):
        HDF5Source(path, annotations="/arr")
    with pytest.raises(MissingNodeError, match="'/nope' is not in"):
        HDF5Source(path, annotations="/nope")
    with pytest.raises(ValueError, match=r"annotation_fields \['x'\] are not in"):
        HDF5Source(labeled, "/train/data", annotations="/train/annot", annotation_fields=["x"])
    with pytest.raises(ValueError, match="annotations_field='label' is also a data field"):
        HDF5Source(labeled, "/train/data", annotations="/train/annot", annotations_field="label")


# ------------------------------------------------------------------------ fields


def test_two_data_columns_of_different_shapes(labeled):
    src = HDF5Source(labeled, "/two")
    assert src.fields["spec"].shape == (4, 6) and src.fields["gamma"].shape == (3,)
    batch = src.read(np.array([5, 2]))
    assert batch["spec"].shape == (2, 4, 6) and batch["gamma"].tolist() == [[5, 6, 7], [2, 3, 4]]
    assert batch["spec"].flags.c_contiguous and batch["gamma"].dtype == np.float64
    only = HDF5Source(labeled, "/two", fields=["gamma", "label"])
    assert list(only.fields) == ["gamma", "label"] and list(only.read(np.array([0]))) == ["gamma",
                                                                                         "label"]
    assert list(HDF5Source(labeled, "/two", fields="spec").fields) == ["spec"]
    with pytest.raises(ValueError, match=r"fields \['nope'\] are not in '/two'; fields there: "
                                         r"\['id', 'spec', 'gamma', 'label'\]"):
        HDF5Source(labeled, "/two", fields=["spec", "nope"])
    with pytest.raises(ValueError, match="fields=\\[\\] selects nothing"):
        HDF5Source(labeled, "/two", fields=[])


def test_array_nodes(arrays):
    path, x, y = arrays
    group = HDF5Source(path)  # "/data": a group of equal-length array nodes
    assert list(group.fields) == ["x", "y"] and len(group) == 50
    idx = np.array([49, 0, 7, 7, 13])
    batch = group.read(idx)
    np.testing.assert_array_equal(batch["x"], x[idx])
    np.testing.assert_array_equal(batch["y"], y[idx])
    assert group.attrs == {"class_names": ["zero", "one"]}
    listed = HDF5Source(path, ["/data/x", "/plain"][:1] + ["/data/y"])
    assert list(listed.fields) == ["x", "y"] and listed.node == ("/data/x", "/data/y")
    plain = HDF5Source(path, "/plain")  # a contiguous (unchunked) Array
    assert plain.block_size is None
    np.testing.assert_array_equal(plain.read(idx)["plain"], x[idx])
    assert HDF5Source(path, "/data/y").block_size == 7
    with pytest.raises(ValueError, match="need equal lengths"):
        HDF5Source(path, ["/data/x", "/short"])
    with pytest.raises(ValueError, match="VLArray"):
        HDF5Source(path, "/ragged")
    with pytest.raises(ValueError, match="group holding tables"):
        HDF5Source(path, "/mixed")
    with pytest.raises(ValueError, match="must name array nodes"):
        HDF5Source(path, ["/mixed/t"])
    with pytest.raises(ValueError, match="grows along axis 1; ladle reads samples along the first"):
        HDF5Source(path, "/sideways")
    with pytest.raises(ValueError, match=r"shape \(\)"):
        HDF5Source(path, "/scalar")


def test_empty_and_out_of_range_reads(labeled):
    src = HDF5Source(labeled, "/two")
    empty = src.read(np.array([], dtype=np.int64))
    assert empty["spec"].shape == (0, 4, 6)
    with pytest.raises(IndexError, match="contains 6, outside the valid range"):
        src.read(np.array([6]))


# ------------------------------------------------------------------------ chunk-aware reads


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The same 300 rows as a compressed table, an uncompressed table and arrays (chunks of 16)."""
    from ladle.store import write_store

    folder = tmp_path_factory.mktemp("stores")
    rng = np.random.default_rng(0)
    x = rng.random((300, 3, 5)).astype(np.float32)
    y = np.arange(300) % 4
    out = {}
    for name, opts in {"zlib": dict(compression="zlib"), "plain": dict(compression="none"),
                       "arrays": dict(layout="arrays", compression="blosc2:lz4")}.items():
        out[name] = str(folder / f"{name}.h5")
        write_store(out[name], {"x": x, "y": y}, chunk_rows=16, progress=False, **opts)
    return out, x, y


@given(idx=st.lists(st.integers(0, 299), min_size=1, max_size=80),
       store=st.sampled_from(["zlib", "plain", "arrays"]), where=st.booleans())
def test_reads_equal_memory_in_the_requested_order(stores, idx, store, where):
    paths, x, y = stores
    if where and store != "arrays":
        src = HDF5Source(paths[store], where="y == 1")
        rows = np.flatnonzero(y == 1)
        idx = [i % len(rows) for i in idx]
    else:
        src, rows = HDF5Source(paths[store]), np.arange(300)
    batch = src.read(np.array(idx))
    np.testing.assert_array_equal(batch["x"], x[rows[idx]])
    np.testing.assert_array_equal(batch["y"], y[rows[idx]])
    # each chunk a compressed batch touches is read at most once
    if store != "plain":
        assert src.stats.reads <= len(np.unique(rows[idx] // 16)) * (len(src.fields) if
                                                                     store == "arrays" else 1)
    src.close()


def test_rows_of_one_chunk_are_read_once(stores):
    paths, x, _ = stores
    for store in ("zlib", "plain"):
        src = HDF5Source(paths[store])
        assert src.block_size == 16
        src.read(np.array([35, 32, 47, 40, 33]))  # all in chunk 2 (rows 32..47)
        assert src.stats.reads == 1, store
    scattered = HDF5Source(paths["plain"])
    scattered.read(np.arange(0, 300, 20)[::-1])  # 15 runs: one point selection
    assert scattered.stats.reads == 1 and scattered.stats.rows == 15


def test_block_order_takes_the_chunk_length(stores):
    paths, x, _ = stores
    src = HDF5Source(paths["zlib"], where="id < 288")  # 18 whole chunks
    loader = Loader(src, batch_size=16, order="block", seed=3)
    assert loader.order.block == 16
    batches = list(loader)
    assert src.stats.reads == len(batches) == 18  # every batch is one whole chunk, read once
    seen = np.concatenate([b.indices for b in batches])
    assert sorted(seen.tolist()) == list(range(288))
    np.testing.assert_array_equal(batches[0]["x"], x[batches[0].indices])


def test_threads_give_the_serial_batches(stores):
    paths, _, _ = stores
    serial = [b["x"] for b in Loader(HDF5Source(paths["zlib"]), 32, shuffle=True, seed=1)]
    threaded = Loader(HDF5Source(paths["zlib"]), 32, shuffle=True, seed=1, workers=2)
    with threaded:
        for a, b in zip(serial, threaded):
            np.testing.assert_array_equal(a, b["x"])


# ------------------------------------------------------------------------ processes


def _read_in_child(src, idx, conn):
    try:
        conn.send(src.read(idx)["x"])
    except BaseException as exc:  # report instead of dying silently
        conn.send(repr(exc))
    conn.close()


def test_pickles_as_a_spec_not_a_handle(stores):
    paths, x, _ = stores
    src = HDF5Source(paths["zlib"], fields=["x"])
    src.read(np.array([1]))
    data = pickle.dumps(src)
    assert len(data) < 2000 and b"tables.file" not in data
    clone = pickle.loads(data)
    assert clone._state is None and clone.fields == src.fields and len(clone) == 300
    np.testing.assert_array_equal(clone.read(np.array([5, 2]))["x"], x[[5, 2]])
    again = pickle.loads(data)  # a second copy in this process shares the open handle
    again.read(np.array([0]))
    assert again._state is clone._state


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_source_used_in_the_parent_works_in_a_child(stores, method):
    paths, x, _ = stores
    src = HDF5Source(paths["zlib"], fields=["x"])
    np.testing.assert_array_equal(src.read(np.array([3]))["x"], x[[3]])  # opened here first
    ctx = mp.get_context(method)
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_read_in_child, args=(src, np.array([299, 0, 150]), child))
    proc.start()
    got = parent.recv()
    proc.join(30)
    assert not isinstance(got, str), got
    np.testing.assert_array_equal(got, x[[299, 0, 150]])
    np.testing.assert_array_equal(src.read(np.array([7, 8]))["x"], x[[7, 8]])  # parent unharmed


def test_process_workers_give_the_serial_batches(stores):
    paths, _, _ = stores
    src = HDF5Source(paths["arrays"])
    serial = [b["x"] for b in Loader(src, 50, shuffle=True, seed=2)]
    with Loader(src, 50, shuffle=True, seed=2, workers=2, backend="process") as loader:
        for a, b in zip(serial, loader):
            np.testing.assert_array_equal(a, b["x"])


def test_a_changed_file_is_refused_in_other_processes(tmp_path):
    from ladle.store import StoreWriter

    path = str(tmp_path / "grow.h5")
    with StoreWriter(path) as w:
        w.append({"x": np.zeros((4, 2))})
    data = pickle.dumps(HDF5Source(path))
    with StoreWriter(path, mode="a") as w:
        w.append({"x": np.ones((4, 2))})
    os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock's resolution
    with pytest.raises(StoreError, match="changed since the source was created"):
        pickle.loads(data).read(np.array([0]))


# ------------------------------------------------------------------------ files


def test_close_context_manager_and_garbage_collection(stores):
    paths, x, _ = stores
    src = HDF5Source(paths["zlib"])
    h5 = src._state.h5
    src.close()
    assert not h5.isopen
    np.testing.assert_array_equal(src.read(np.array([1]))["x"], x[[1]])  # reopened lazily
    with HDF5Source(paths["zlib"]) as inner:
        h5 = inner._state.h5
    assert not h5.isopen
    gone = HDF5Source(paths["zlib"])
    h5 = gone._state.h5
    del gone
    gc.collect()
    assert not h5.isopen


def test_missing_files_and_nodes(tmp_path, labeled):
    with pytest.raises(FileNotFoundError, match="does not exist; check the path"):
        HDF5Source(str(tmp_path / "nope.h5"))
    with pytest.raises(IsADirectoryError, match="is a directory"):
        HDF5Source(str(tmp_path))
    listed = r"node '/data' is not in .*leaves there: /two, /train/annot, /train/data"
    with pytest.raises(MissingNodeError, match=listed):
        HDF5Source(labeled)
    with pytest.raises(TypeError, match="must be a file path or an open PyTables node"):
        HDF5Source(42)


def test_not_hdf5_and_truncated_files(tmp_path, stores):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all" * 100)
    with pytest.raises(StoreError, match="not an HDF5 file, or it is truncated or corrupt "
                                         r"\(file signature not found\)"):
        HDF5Source(str(junk))
    data = open(stores[0]["zlib"], "rb").read()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError, match="truncated or corrupt"):
        src = HDF5Source(str(cut))  # the metadata may survive the cut ...
        src.read(np.arange(len(src)))  # ... the data cannot


def test_a_corrupt_chunk_is_a_clear_error(tmp_path):
    import h5py

    path = str(tmp_path / "corrupt.h5")
    with tables.open_file(path, "w") as h5:
        t = h5.create_table("/", "data", LabeledRow, filters=KETOS_FILTERS, chunkshape=(8,))
        t.append([(i, np.full((4, 4), i, np.float32), 1) for i in range(32)])
    with h5py.File(path, "r") as f:
        info = f["data"].id.get_chunk_info(1)  # rows 8..15
    with open(path, "r+b") as f:
        f.seek(info.byte_offset + 10)
        f.write(b"\xff" * 16)
    src = HDF5Source(path)
    np.testing.assert_array_equal(src.read(np.array([0]))["id"], [0])  # other chunks still read
    with pytest.raises(StoreError, match=r"reading rows 9\.\.12 of /data in .* failed: the file is "
                                         "truncated or corrupt"):
        src.read(np.array([9, 12]))


def test_repr_names_the_store(labeled):
    text = repr(HDF5Source(labeled, "/train/data", where="label == 1"))
    assert "labeled.h5" in text and "where='label == 1'" in text and "len=10" in text


# ------------------------------------------------------------------------ direct chunk decoding


@pytest.fixture(scope="module")
def blosc_stores(tmp_path_factory):
    """Blosc2 and Blosc tables and arrays (chunks of 16; 203 rows: the last chunk is partial)."""
    from ladle.store import write_store

    folder = tmp_path_factory.mktemp("blosc")
    rng = np.random.default_rng(1)
    data = {"x": rng.integers(0, 9, (203, 4, 3)).astype(np.float32), "y": np.arange(203) % 5,
            "name": np.array([f"n{i}" for i in range(203)])}
    paths = {}
    for comp in ("blosc2:lz4", "blosc:lz4", "blosc2:zstd"):
        for layout in ("table", "arrays"):
            paths[comp, layout] = str(folder / f"{comp.replace(':', '-')}-{layout}.h5")
            write_store(paths[comp, layout], data, layout=layout, compression=comp, chunk_rows=16,
                        progress=False)
    return paths, data


@given(idx=st.lists(st.integers(0, 202), min_size=1, max_size=70),
       comp=st.sampled_from(["blosc2:lz4", "blosc:lz4", "blosc2:zstd"]),
       layout=st.sampled_from(["table", "arrays"]))
def test_direct_chunk_decoding_equals_pytables(blosc_stores, idx, comp, layout):
    paths, data = blosc_stores
    direct = HDF5Source(paths[comp, layout])
    plain = HDF5Source(paths[comp, layout], direct_chunks=False)
    a, b = direct.read(np.array(idx)), plain.read(np.array(idx))
    for k in data:
        np.testing.assert_array_equal(a[k], b[k])
        np.testing.assert_array_equal(a[k], np.char.encode(data[k][idx]) if k == "name" else
                                      data[k][idx])
    for i in direct._used:  # every node, the string one stored raw (incompressible) included
        assert direct._opened().decoder(i) is not None and plain._opened().decoder(i) is None
    assert direct.stats.reads <= len(np.unique(np.array(idx) // 16)) * len(direct._used)


def test_direct_decoding_only_for_plain_blosc(stores, tmp_path):
    paths, _, _ = stores
    for name in ("zlib", "plain"):
        assert HDF5Source(paths[name])._opened().decoder(0) is None
    path = str(tmp_path / "f.h5")
    from ladle.store import write_store

    write_store(path, {"x": np.zeros((40, 2))}, compression="blosc2:lz4", fletcher32=True,
                progress=False)
    assert HDF5Source(path)._opened().decoder(0) is None  # checksums: let HDF5 verify them


def test_a_corrupt_blosc_chunk_is_a_clear_error(tmp_path):
    import h5py

    from ladle.store import write_store

    path = str(tmp_path / "b.h5")
    write_store(path, {"x": np.random.default_rng(0).random((64, 50))}, compression="blosc2:lz4",
                chunk_rows=16, progress=False)
    with h5py.File(path, "r") as f:
        info = f["data"].id.get_chunk_info(2)  # rows 32..47
    with open(path, "r+b") as f:
        f.seek(info.byte_offset)
        f.write(b"\x00" * 64)
    src = HDF5Source(path)
    assert src.read(np.array([0]))["x"].shape == (1, 50)
    with pytest.raises(StoreError, match=r"reading rows 33\.\.33 of /data .* truncated or corrupt"):
        src.read(np.array([33]))


@pytest.mark.parametrize("store", ["zlib", "plain", "arrays"])
def test_results_never_share_memory_with_later_reads(stores, store):
    paths, x, y = stores
    src = HDF5Source(paths[store])
    for first, second in (([5, 1, 3], [9, 8, 7]), ([0, 1, 2], [3, 4, 5]), ([4, 40], [200, 100])):
        a = src.read(np.array(first))
        kept = {k: v.copy() for k, v in a.items()}
        src.read(np.array(second))
        for k in a:
            np.testing.assert_array_equal(a[k], kept[k])
            assert a[k].flags.c_contiguous
