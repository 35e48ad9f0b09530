"""ladle.compat.ketos: ketos' docstring examples and documented behaviour, on fixtures written in
the ketos database layout with PyTables, checked batch for batch (and global-RNG state for state)
against a transcription of ketos 2.7.1's index logic."""

import warnings

import numpy as np
import pytest
import tables
from hypothesis import given, settings
from hypothesis import strategies as st

from ladle.compat.ketos import data_feeding
from ladle.compat.ketos.data_feeding import (
    BATCH_SIZE_WARNING,
    BatchGenerator,
    JointBatchGen,
    MultiModalBatchGen,
)
from ladle.compat.ketos.database_interface import open_table

FILTERS = tables.Filters(complevel=1, fletcher32=True)


# ------------------------------------------------------------------ fixtures (ketos layout)
def data_description(**shapes):
    """ketos' data table: id, data column(s), filename, offset, label."""
    desc = {"id": tables.UInt32Col(pos=0), "filename": tables.StringCol(100, pos=90),
            "offset": tables.Float64Col(pos=91), "label": tables.UInt8Col(pos=92)}
    for pos, (name, shape) in enumerate(shapes.items(), start=1):
        desc[name] = tables.Float32Col(shape=shape, pos=pos)
    return desc


ANNOT_DESCRIPTION = {"data_index": tables.UInt32Col(pos=0), "label": tables.UInt8Col(pos=1),
                     "start": tables.Float64Col(pos=2), "end": tables.Float64Col(pos=3)}


def write_data(h5, where, name, n, labels=None, **shapes):
    """n rows; every data column of row i is filled with i (+ 0.5 for the second column)."""
    table = h5.create_table(where, name, data_description(**shapes), createparents=True,
                            filters=FILTERS, chunkshape=(4,))
    rows = np.zeros(n, dtype=table.dtype)
    rows["id"] = np.arange(n)
    rows["filename"] = [f"file_{i}.wav".encode() for i in range(n)]
    rows["offset"] = np.arange(n) * 0.5
    rows["label"] = 0 if labels is None else labels
    for k, col in enumerate(shapes):
        rows[col] = (np.arange(n) + 0.5 * k).reshape((n,) + (1,) * len(shapes[col]))
    table.append(rows)
    table.flush()
    return table


def write_annotations(h5, where, name, annotations):
    """annotations: (data_index, label, end) triples, written in this order."""
    table = h5.create_table(where, name, ANNOT_DESCRIPTION, createparents=True, filters=FILTERS)
    rows = np.zeros(len(annotations), dtype=table.dtype)
    for r, (i, label, end) in enumerate(annotations):
        rows[r] = (i, label, end - 2.0, end)
    table.append(rows)
    table.flush()
    return table


# the instances with no annotation (2 and 5) and instance 3 written before instance 1
SPARSE = [(0, 0, 2.2), (0, 1, 4.2), (3, 0, 2.2), (3, 1, 4.2), (1, 2, 6.2), (4, 1, 1.0)]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("ketos") / "db.h5"
    with tables.open_file(path, "w") as h5:
        # 11 instances of 12x12 spectrograms with two annotations each (labels 2, 3)
        write_data(h5, "/group_1", "table_data", 11, data=(12, 12))
        write_annotations(h5, "/group_1", "table_annot",
                          [(i, lab, 1.0 + lab) for i in range(11) for lab in (2, 3)])
        # 20 instances, labels 1 x 10 then 0 x 10 (the filter fixture)
        write_data(h5, "/train", "data", 20, labels=[1] * 10 + [0] * 10, data=(4, 3))
        # 6 instances; 2 and 5 have no annotation
        write_data(h5, "/", "audio", 6, data=(5,))
        write_annotations(h5, "/", "audio_annot", SPARSE)
        # two data columns of different shapes
        write_data(h5, "/mult", "data", 20, labels=np.arange(20) % 2, spec=(4, 3), gamma=(5, 2))
    h5 = tables.open_file(path, "r")
    yield h5
    h5.close()


@pytest.fixture
def narw(db):
    return open_table(db, "/train/data")


def run(gen, n):
    return [next(gen) for _ in range(n)]


# ------------------------------------------------------------------ reference (ketos 2.7.1)
class KetosReference:
    """ketos 2.7.1's BatchGenerator index logic (in memory), transcribed; one deliberate change:
    ``n_extend`` is kept at refreshes (ketos loses it, a bug not copied)."""

    def __init__(self, n, batch_size, select_indices=None, shuffle=False, refresh=False,
                 n_extend=0, transform=None):
        self.select_indices = np.arange(n) if select_indices is None else select_indices
        self.n_instances = len(self.select_indices)
        self.batch_size = min(batch_size, self.n_instances)
        self.shuffle, self.refresh, self.n_ext = shuffle, refresh, n_extend
        self.transform = transform
        self.batch_count = 0
        self.n_batches = self.n_instances // self.batch_size
        self._update()
        self._create()

    def _update(self, indices=None):
        if indices is None:
            self.data_indices = self.select_indices.copy()
            if self.shuffle:
                np.random.shuffle(self.data_indices)
        else:
            self.data_indices = indices

    def _create(self):
        ids, n, e = self.data_indices, self.batch_size, self.n_ext
        nc, extra = self.n_instances // n, self.n_instances % n
        batches = [list(ids[max(0, i * n - e):min(n * nc, (i + 1) * n + e)]) for i in range(nc)]
        if extra > 0:
            batches[-1] = batches[-1] + list(ids[-extra:])
        self.batches = batches

    def reset(self, indices=None):
        if (self.refresh and self.batch_count > 0) or indices is not None:
            self._update(indices)
            self._create()
        self.batch_count = 0

    def next(self):
        ids = [int(i) for i in self.batches[self.batch_count]]
        self.batch_count += 1
        if self.batch_count > self.n_batches - 1:
            self.reset()
        extra = None if self.transform is None else self.transform(None, None)[1]
        return ids, extra


def rng_state():
    s = np.random.get_state()
    return s[1].tolist(), s[2], s[3]


def draw(X, Y):
    """An output transform that consumes the global RNG (to check when refreshes draw)."""
    return X, float(np.random.random())


# --------------------------------------------------------------------------- ketos' examples
def test_docstring_example_two_epochs_of_11_instances_with_annotation_table(db):
    data_table = open_table(db, "/group_1/table_data")
    annot_table = open_table(db, "/group_1/table_annot")
    gen = BatchGenerator(data_table=data_table, annot_in_data_table=False, annot_table=annot_table,
                         batch_size=3, x_field="data", return_batch_ids=True)
    lines = []
    for e in range(2):
        for batch_num in range(gen.n_batches):
            ids, batch_X, batch_Y = next(gen)
            lines.append(f"epoch:{e}, batch {batch_num} | instance ids:{ids}, X batch shape: "
                         f"{batch_X.shape} labels for instance {ids[0]}: {batch_Y[0]}")
    expected = []
    for e in range(2):
        for b, ids, shape in ((0, [0, 1, 2], (3, 12, 12)), (1, [3, 4, 5], (3, 12, 12)),
                              (2, [6, 7, 8, 9, 10], (5, 12, 12))):
            expected.append(f"epoch:{e}, batch {b} | instance ids:{ids}, X batch shape: {shape} "
                            f"labels for instance {ids[0]}: [2, 3]")
    assert lines == expected


def test_docstring_example_output_transform(narw):
    def apply_to_batch(X, Y):
        X = np.mean(X, axis=(1, 2))
        return (X, Y)

    gen = BatchGenerator(data_table=narw, batch_size=3, annot_in_data_table=True,
                         return_batch_ids=False, output_transform_func=apply_to_batch)
    X, Y = next(gen)
    assert X.shape == (3,) and Y.shape == (3,)
    assert X.tolist() == [0.0, 1.0, 2.0]


# --------------------------------------------------------------------------- table mode: content
def test_one_batch_has_the_table_rows(narw):
    ids, X, Y = next(BatchGenerator(data_table=narw, batch_size=5, return_batch_ids=True))
    assert ids == [0, 1, 2, 3, 4] and all(type(i) is int for i in ids)
    np.testing.assert_array_equal(X, narw[:5]["data"])
    assert X.shape == (5, 4, 3) and X.dtype == np.float32
    assert Y.shape == (5,) and Y.tolist() == [1] * 5


def test_several_x_fields_give_a_structured_array(db):
    table = open_table(db, "/mult/data")
    _ids, X, Y = next(BatchGenerator(data_table=table, batch_size=5, x_field=["spec", "gamma"],
                                    return_batch_ids=True))
    assert len(X) == 5 and len(X[0]) == 2
    assert X[0]["spec"].shape == (4, 3) and X[0]["gamma"].shape == (5, 2)
    np.testing.assert_array_equal([x[0] for x in X], table[:5]["spec"])
    np.testing.assert_array_equal([x["gamma"] for x in X], table[:5]["gamma"])
    assert Y.tolist() == [0, 1, 0, 1, 0]


def test_several_y_fields_give_a_structured_array(narw):
    _X, Y = next(BatchGenerator(data_table=narw, batch_size=4, y_field=["label", "offset"]))
    assert Y.shape == (4,) and Y.dtype.names == ("label", "offset")
    assert Y[0]["label"] == 1 and Y["offset"].tolist() == [0.0, 0.5, 1.0, 1.5]


def test_single_y_field_in_a_list_gives_the_plain_column(narw):
    gen = BatchGenerator(data_table=narw, batch_size=4, y_field=["label"])
    assert gen.y_field == ["label"] and gen.x_field == "data"
    assert next(gen)[1].tolist() == [1, 1, 1, 1]


def test_strong_annotations_two_per_instance(db):
    gen = BatchGenerator(batch_size=5, data_table=open_table(db, "/group_1/table_data"),
                         annot_in_data_table=False, y_field=["label"],
                         annot_table=open_table(db, "/group_1/table_annot"))
    _, Y = next(gen)
    assert Y == [[2, 3]] * 5


def test_instances_without_annotations_get_an_empty_list(db):
    gen = BatchGenerator(batch_size=4, data_table=open_table(db, "/audio"),
                         annot_in_data_table=False, annot_table=open_table(db, "/audio_annot"),
                         select_indices=[0, 1, 2, 3])
    _, Y = next(gen)
    assert Y == [[0, 1], [2], [], [0, 1]]
    gen = BatchGenerator(batch_size=3, data_table=open_table(db, "/audio"),
                         annot_in_data_table=False, annot_table=open_table(db, "/audio_annot"))
    assert [next(gen)[1] for _ in range(2)] == [[[0, 1], [2], []], [[0, 1], [1], []]]


def test_annotations_with_two_y_fields_give_structured_arrays_per_instance(db):
    gen = BatchGenerator(batch_size=4, data_table=open_table(db, "/audio"),
                         annot_in_data_table=False, annot_table=open_table(db, "/audio_annot"),
                         y_field=["label", "end"], select_indices=[0, 1, 2, 3])
    _, Y = next(gen)
    assert [len(y) for y in Y] == [2, 1, 0, 2]
    assert Y[0].dtype.names == ("label", "end")
    assert Y[0]["label"].tolist() == [0, 1] and Y[0]["end"].tolist() == [2.2, 4.2]
    assert Y[1].tolist() == [(2, 6.2)]


def test_annotation_join_does_not_scan_the_annotation_table_per_row(db, monkeypatch):
    """ketos iterated every annotation row for every instance (O(rows x annotations))."""
    def refuse(*a, **k):
        raise AssertionError("the annotation table was iterated row by row")

    monkeypatch.setattr(tables.Table, "iterrows", refuse)
    monkeypatch.setattr(tables.Table, "__iter__", refuse)
    gen = BatchGenerator(batch_size=3, data_table=open_table(db, "/audio"),
                         annot_in_data_table=False, annot_table=open_table(db, "/audio_annot"),
                         shuffle=True, refresh_on_epoch_end=True, return_batch_ids=True)
    expected = {0: [0, 1], 1: [2], 2: [], 3: [0, 1], 4: [1], 5: []}
    for ids, _, Y in run(gen, 6):
        assert Y == [expected[i] for i in ids]


def test_get_samples_with_and_without_annotation_rows(db):
    gen = BatchGenerator(batch_size=2, data_table=open_table(db, "/audio"),
                         annot_in_data_table=False, annot_table=open_table(db, "/audio_annot"))
    X, Y = gen.get_samples([3, 0])
    assert X[:, 0].tolist() == [3.0, 0.0] and Y == [[0, 1], [0, 1]]
    # only annotation rows 0 (instance 0) and 3 (instance 3, label 1)
    X, Y = gen.get_samples([3, 0], annot_indices=[0, 3])
    assert Y == [[1], [0]]
    with pytest.raises(IndexError, match="annot_indices contains 99"):
        gen.get_samples([0], annot_indices=[99])


def test_get_samples_in_table_and_memory_mode(narw):
    gen = BatchGenerator(data_table=narw, batch_size=4,
                         output_transform_func=lambda X, Y: (X, Y * 10))
    X, Y = gen.get_samples([12, 2])
    assert X[:, 0, 0].tolist() == [12.0, 2.0] and Y.tolist() == [0, 10]
    with pytest.raises(ValueError, match="annot_indices"):
        gen.get_samples([1], annot_indices=[0])
    with pytest.raises(IndexError, match=r"indices contains 20.*\[0, 20\)"):
        gen.get_samples([20])


# --------------------------------------------------------------------------- selection
def test_select_indices_are_used_in_their_order(narw):
    gen = BatchGenerator(data_table=narw, batch_size=4, select_indices=[1, 3, 5, 7, 9, 11, 13, 14],
                         return_batch_ids=True)
    assert [b[0] for b in run(gen, 3)] == [[1, 3, 5, 7], [9, 11, 13, 14], [1, 3, 5, 7]]
    ids, X, _ = next(BatchGenerator(data_table=narw, batch_size=2, select_indices=[7, 2],
                                    return_batch_ids=True))
    assert ids == [7, 2] and X[:, 0, 0].tolist() == [7.0, 2.0]


def test_filter_selects_matching_rows_and_overrides_select_indices(narw):
    gen = BatchGenerator(data_table=narw, batch_size=4, filter="label == 0",
                         select_indices=[0, 1, 2], return_batch_ids=True)
    assert gen.n_instances == 10 and gen.n_batches == 2
    (ids1, _, y1), (ids2, _, y2) = run(gen, 2)
    assert ids1 == [10, 11, 12, 13] and ids2 == list(range(14, 20))
    assert y1.tolist() + y2.tolist() == [0] * 10
    gen = BatchGenerator(data_table=narw, batch_size=3, filter="(label == 1) & (offset > 2)",
                         return_batch_ids=True)
    assert gen.get_indices().tolist() == [5, 6, 7, 8, 9]


def test_filter_errors_are_clear(narw):
    with pytest.raises(ValueError, match="filter='label == 7' matches no row"):
        BatchGenerator(data_table=narw, batch_size=4, filter="label == 7")
    with pytest.raises(ValueError, match="filter='colour == 1' is not a valid PyTables condition"):
        BatchGenerator(data_table=narw, batch_size=4, filter="colour == 1")
    with pytest.raises(ValueError, match="filter=.*data are in memory"):
        BatchGenerator(batch_size=2, x=np.zeros(4), y=np.zeros(4), filter="label == 0")


def test_empty_selection_raises_instead_of_dividing_by_zero(narw):
    with pytest.raises(ValueError, match="select_indices is empty"):
        BatchGenerator(data_table=narw, batch_size=4, select_indices=[])
    with pytest.raises(ValueError, match="nothing to batch"):
        BatchGenerator(batch_size=4, x=np.zeros((0, 3)), y=np.zeros(0))


def test_table_without_id_column_uses_row_numbers(tmp_path):
    with tables.open_file(tmp_path / "noid.h5", "w") as h5:
        t = h5.create_table("/", "data", {"data": tables.Float32Col(shape=(2,)),
                                          "label": tables.UInt8Col()})
        t.append([((i, i), i % 2) for i in range(5)])
        gen = BatchGenerator(data_table=t, batch_size=2, return_batch_ids=True)
        assert [b[0] for b in run(gen, 2)] == [[0, 1], [2, 3, 4]]
        gen = BatchGenerator(data_table=t, batch_size=2, filter="label == 1", return_batch_ids=True)
        assert next(gen)[0] == [1, 3]


# --------------------------------------------------------------------------- batching
def test_last_batch_takes_the_remainder_and_epochs_repeat(narw):
    gen = BatchGenerator(data_table=narw, batch_size=6, return_batch_ids=True)
    assert gen.n_batches == 3 and gen.n_instances == 20
    batches = run(gen, 4)
    assert [b[0] for b in batches] == [list(range(6)), list(range(6, 12)), list(range(12, 20)),
                                       list(range(6))]
    assert [b[1].shape[0] for b in batches] == [6, 6, 8, 6]


def test_endless_iterator_never_stops():
    gen = BatchGenerator(batch_size=3, x=np.arange(11), y=np.arange(11))
    assert iter(gen) is gen
    sizes = [len(next(gen)[0]) for _ in range(300)]
    assert sizes == [3, 3, 5] * 100
    assert gen.batch_count == 0


def test_batch_count_follows_the_epoch():
    gen = BatchGenerator(batch_size=3, x=np.arange(11), y=np.arange(11))
    counts = []
    for _ in range(4):
        next(gen)
        counts.append(gen.batch_count)
    assert counts == [1, 2, 0, 1]


def test_batch_size_larger_than_instances_warns_once(narw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gen = BatchGenerator(data_table=narw, batch_size=99, return_batch_ids=True)
    assert len(caught) == 1 and caught[0].category is UserWarning
    assert str(caught[0].message) == BATCH_SIZE_WARNING == (
        "The batch size is greater than the number of instances available. Setting batch_size "
        "to n_instances.")
    assert caught[0].filename == __file__
    assert gen.batch_size == 20 and gen.n_batches == 1
    ids, X, _ = next(gen)
    assert ids == list(range(20)) and X.shape == (20, 4, 3)


def test_n_extend_as_documented(narw):
    gen = BatchGenerator(data_table=narw, batch_size=6, return_batch_ids=True, n_extend=2)
    batches = run(gen, 3)
    assert [b[0] for b in batches] == [list(range(8)), list(range(4, 14)), list(range(10, 20))]
    assert [b[1].shape for b in batches] == [(8, 4, 3), (10, 4, 3), (10, 4, 3)]


def test_n_extend_survives_refreshes():
    """ketos rebuilt the batches without n_extend after the first refresh (a bug not copied)."""
    np.random.seed(3)
    gen = BatchGenerator(batch_size=6, x=np.arange(20), y=np.arange(20), shuffle=True,
                         refresh_on_epoch_end=True, n_extend=2, return_batch_ids=True)
    for _ in range(3):
        order = gen.get_indices().tolist()
        ids = [b[0] for b in run(gen, 3)]
        assert ids == [order[0:8], order[4:14], order[10:20]]
    assert gen.n_extend == 2


def test_n_extend_larger_than_batch_size_follows_ketos():
    gen = BatchGenerator(batch_size=6, x=np.arange(20), y=np.arange(20), n_extend=8,
                         return_batch_ids=True)
    ids = [b[0] for b in run(gen, 3)]
    assert ids == [list(range(14)), list(range(18)), list(range(4, 20))]
    gen = BatchGenerator(batch_size=6, x=np.arange(20), y=np.arange(20), n_extend=7,
                         return_batch_ids=True)
    assert next(gen)[0] == list(range(13))  # never into the remainder 18, 19
    assert next(gen)[0] == list(range(18))


# --------------------------------------------------------------------------- global RNG parity
KETOS_SHUFFLED = ([17, 19, 11, 18, 13, 6], [16, 1, 9, 14, 12, 5], [2, 4, 10, 0, 15, 7, 3, 8])
KETOS_REFRESHED = [KETOS_SHUFFLED,
                   ([18, 19, 17, 0, 8, 6], [14, 7, 11, 10, 15, 3], [5, 13, 1, 4, 12, 2, 9, 16]),
                   ([3, 4, 12, 17, 10, 1], [19, 5, 11, 8, 0, 18], [6, 13, 7, 15, 16, 14, 2, 9])]


def test_shuffle_with_seed_100_gives_ketos_batches_every_epoch(narw):
    """The ids ketos' own test suite expects (np.random.seed(100), 20 rows, batch 6)."""
    np.random.seed(100)
    gen = BatchGenerator(data_table=narw, batch_size=6, return_batch_ids=True, shuffle=True)
    after_construction = rng_state()
    for _ in range(5):
        batches = run(gen, 3)
        assert tuple(b[0] for b in batches) == KETOS_SHUFFLED
        for ids, X, Y in batches:
            assert X[:, 0, 0].tolist() == ids and Y.tolist() == [int(i < 10) for i in ids]
    assert rng_state() == after_construction  # no refresh: no further draw


def test_refresh_on_epoch_end_with_seed_100_gives_ketos_batches(narw):
    np.random.seed(100)
    gen = BatchGenerator(data_table=narw, batch_size=6, y_field=["label"], return_batch_ids=True,
                         shuffle=True, refresh_on_epoch_end=True)
    for expected in KETOS_REFRESHED:
        batches = run(gen, 3)
        assert tuple(b[0] for b in batches) == expected
        for ids, _, Y in batches:
            assert Y.tolist() == [int(i < 10) for i in ids]


def test_refresh_draws_after_the_last_batch_is_taken_and_before_its_transform():
    np.random.seed(7)
    gen = BatchGenerator(batch_size=2, x=np.arange(4), y=np.arange(4), shuffle=True,
                         refresh_on_epoch_end=True, output_transform_func=draw)
    np.random.seed(7)
    ref = KetosReference(4, 2, shuffle=True, refresh=True, transform=draw)
    np.random.seed(11)
    got = [next(gen)[1] for _ in range(6)]
    np.random.seed(11)
    want = [ref.next()[1] for _ in range(6)]
    assert got == want


def test_refresh_without_shuffle_restores_the_selection_order():
    gen = BatchGenerator(batch_size=2, x=np.arange(4), y=np.arange(4), refresh_on_epoch_end=True,
                         return_batch_ids=True)
    gen.reset(indices=[3, 2, 1, 0])
    state = rng_state()
    assert [b[0] for b in run(gen, 4)] == [[3, 2], [1, 0], [0, 1], [2, 3]]
    assert rng_state() == state


ACTIONS = st.lists(st.sampled_from(["next"] * 6 + ["reset", "reset_indices", "shuffle_on",
                                                   "shuffle_off"]), max_size=40)


@settings(max_examples=80)
@given(n=st.integers(1, 30), batch_size=st.integers(1, 35), n_extend=st.integers(0, 8),
       shuffle=st.booleans(), refresh=st.booleans(), subset=st.booleans(),
       seed=st.integers(0, 2**31), actions=ACTIONS)
def test_ids_and_global_rng_match_ketos(n, batch_size, n_extend, shuffle, refresh, subset, seed,
                                        actions):
    select = np.arange(n)[::-1][: max(1, n // 2)].copy() if subset else None
    x = np.arange(n) * 10
    np.random.seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gen = BatchGenerator(batch_size=batch_size, x=x, y=x + 1, select_indices=select,
                             shuffle=shuffle, refresh_on_epoch_end=refresh, n_extend=n_extend,
                             return_batch_ids=True, output_transform_func=draw)
    ours = rng_state()
    np.random.seed(seed)
    ref = KetosReference(n, batch_size, select, shuffle, refresh, n_extend, transform=draw)
    assert rng_state() == ours
    assert (gen.n_instances, gen.n_batches, gen.batch_size) == (ref.n_instances, ref.n_batches,
                                                                ref.batch_size)
    for step, action in enumerate(actions + ["next"] * 3):
        np.random.seed(seed + step)
        got = act(gen, action, seed + step)
        got_state = rng_state()
        np.random.seed(seed + step)
        want = act(ref, action, seed + step)
        assert (got, got_state) == (want, rng_state())
        assert gen.batch_count == ref.batch_count
        assert gen.get_indices().tolist() == [int(i) for i in ref.data_indices]


def act(gen, action, seed):
    """One step on a BatchGenerator or on the reference; returns what the step yields."""
    ref = isinstance(gen, KetosReference)
    if action == "next":
        if ref:
            return gen.next()
        ids, X, Y = next(gen)
        assert X.tolist() == [i * 10 for i in ids]
        return ids, Y
    if action == "reset":
        gen.reset()
    elif action == "reset_indices":
        order = np.random.RandomState(seed).permutation(gen.select_indices)
        gen.reset(indices=order if ref else order.tolist())
    elif ref:
        gen.shuffle = action == "shuffle_on"
    else:
        gen.set_shuffle(action == "shuffle_on")
    return None


# --------------------------------------------------------------------------- in-memory mode
def test_in_memory_batches():
    x = np.ones((15, 32, 16))
    y = np.zeros(15)
    gen = BatchGenerator(x=x, y=y, batch_size=6, return_batch_ids=True)
    assert gen.from_memory and gen.data is None and gen.annot is None and gen.x is x
    batches = run(gen, 3)
    assert [b[0] for b in batches] == [list(range(6)), list(range(6, 15)), list(range(6))]
    assert [b[1].shape for b in batches] == [(6, 32, 16), (9, 32, 16), (6, 32, 16)]
    ids, X, Y = BatchGenerator(x=np.arange(8) * 2, y=np.arange(8) % 3, batch_size=4,
                               select_indices=[7, 5, 3, 1], return_batch_ids=True).__next__()
    assert ids == [7, 5, 3, 1] and X.tolist() == [14, 10, 6, 2] and Y.tolist() == [1, 2, 0, 1]


def test_table_mode_attributes(db, narw):
    annot = open_table(db, "/audio_annot")
    gen = BatchGenerator(batch_size=2, data_table=open_table(db, "/audio"),
                         annot_in_data_table=False, annot_table=annot, y_field="label")
    assert not gen.from_memory and gen.annot is annot and gen.x is None and gen.y is None
    assert gen.data._v_pathname == "/audio" and gen.y_field == ["label"]
    assert "BatchGenerator(/audio" in repr(gen)


def test_output_transform_is_applied_to_every_batch():
    calls = []

    def transform(X, Y):
        calls.append(len(X))
        return X * 2, Y

    gen = BatchGenerator(batch_size=2, x=np.arange(5), y=np.arange(5),
                         output_transform_func=transform)
    assert [next(gen)[0].tolist() for _ in range(3)] == [[0, 2], [4, 6, 8], [0, 2]]
    assert calls == [2, 3, 2]


def test_return_batch_ids_can_be_switched():
    gen = BatchGenerator(batch_size=2, x=np.arange(4), y=np.arange(4))
    assert len(next(gen)) == 2
    gen.set_return_batch_ids(True)
    assert next(gen)[0] == [2, 3]


def test_reset_restarts_and_takes_an_exact_order():
    gen = BatchGenerator(batch_size=2, x=np.arange(6), y=np.arange(6), return_batch_ids=True)
    next(gen)
    gen.reset()
    assert next(gen)[0] == [0, 1]
    gen.reset(indices=np.array([5, 0, 4, 1, 3, 2]))
    assert [b[0] for b in run(gen, 3)] == [[5, 0], [4, 1], [3, 2]]
    assert gen.get_indices().tolist() == [5, 0, 4, 1, 3, 2]
    with pytest.raises(ValueError, match="indices has 2 ids but the generator has n_instances=6"):
        gen.reset(indices=[0, 1])
    with pytest.raises(IndexError, match="indices contains 6"):
        gen.reset(indices=[0, 1, 2, 3, 4, 6])


def test_set_shuffle_applies_at_the_next_refresh():
    np.random.seed(1)
    gen = BatchGenerator(batch_size=5, x=np.arange(10), y=np.arange(10), refresh_on_epoch_end=True,
                         return_batch_ids=True)
    gen.set_shuffle(True)
    assert next(gen)[0] == [0, 1, 2, 3, 4]
    np.random.seed(1)
    expected = np.arange(10)
    np.random.shuffle(expected)
    np.random.seed(1)
    next(gen)
    assert gen.get_indices().tolist() == expected.tolist()


def test_setting_batch_size_recuts_the_batches():
    gen = BatchGenerator(batch_size=2, x=np.arange(7), y=np.arange(7), return_batch_ids=True)
    gen.batch_size = 3
    assert gen.n_batches == 2 and [b[0] for b in run(gen, 2)] == [[0, 1, 2], [3, 4, 5, 6]]
    with pytest.warns(UserWarning, match="Setting batch_size to n_instances"):
        gen.batch_size = 10
    assert gen.batch_size == 7 and gen.n_batches == 1


@pytest.mark.parametrize("kwargs, error, match", [
    ({"batch_size": 0, "x": np.zeros(3), "y": np.zeros(3)}, ValueError,
     "batch_size=0 must be >= 1"),
    ({"batch_size": 2, "x": np.zeros(3), "y": np.zeros(3), "n_extend": -1}, ValueError,
     "n_extend=-1"),
    ({"batch_size": 2, "x": np.zeros(3)}, ValueError, "only x was given"),
    ({"batch_size": 2}, ValueError, "give data_table"),
    ({"batch_size": 2, "data_table": np.zeros(3)}, TypeError, "must be a tables.Table"),
    ({"batch_size": 2, "x": np.zeros(3), "y": np.zeros(4)}, ValueError, "different lengths"),
    ({"batch_size": 2, "x": np.zeros(3), "y": np.zeros(3), "select_indices": [0, 3]}, IndexError,
     r"select_indices contains 3.*\[0, 3\)"),
    ({"batch_size": 2, "x": np.zeros(3), "y": np.zeros(3), "select_indices": [0.5]}, TypeError,
     "select_indices must be a 1-D array of integers"),
    ({"batch_size": 2, "x": np.zeros(3), "y": np.zeros(3), "output_transform_func": 3}, TypeError,
     "output_transform_func=3"),
])
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        BatchGenerator(**kwargs)


def test_bad_table_arguments_raise_clear_errors(db, narw):
    with pytest.raises(ValueError, match="annot_in_data_table=False needs annot_table"):
        BatchGenerator(batch_size=2, data_table=narw, annot_in_data_table=False)
    with pytest.raises(ValueError, match=r"x_field: columns \['spec'\] are not in /train/data"):
        BatchGenerator(batch_size=2, data_table=narw, x_field="spec")
    with pytest.raises(ValueError, match=r"y_field: columns \['kind'\] are not in /audio_annot"):
        BatchGenerator(batch_size=2, data_table=open_table(db, "/audio"), annot_in_data_table=False,
                       annot_table=open_table(db, "/audio_annot"), y_field="kind")
    with pytest.raises(ValueError, match="data_index"):
        BatchGenerator(batch_size=2, data_table=narw, annot_in_data_table=False,
                       annot_table=open_table(db, "/audio"))
    with pytest.raises(ValueError, match="x and y .* data_table"):
        BatchGenerator(batch_size=2, data_table=narw, x=np.zeros(3), y=np.zeros(3))


# --------------------------------------------------------------------------- JointBatchGen
def test_joint_batch_gen_concatenates_one_batch_of_each(db):
    tbl = open_table(db, "/train/data")
    gen1 = BatchGenerator(data_table=tbl, batch_size=3, return_batch_ids=True)
    gen2 = BatchGenerator(data_table=open_table(db, "/mult/data"), x_field="spec", batch_size=2)
    gen = JointBatchGen([gen1, gen2], n_batches="min")
    assert gen.batch_size == 5 and gen.n_batches == 6
    X, Y = next(gen)
    assert X.shape == (5, 4, 3)
    np.testing.assert_array_equal(X[:3], tbl.col("data")[:3])
    assert X[3:, 0, 0].tolist() == [0.0, 1.0] and Y.tolist() == [1, 1, 1, 0, 1]
    gen.set_return_batch_ids(True)
    ids, X, Y = next(gen)
    assert ids.tolist() == [[0, 3], [0, 4], [0, 5], [1, 2], [1, 3]]


def test_joint_batch_gen_n_batches_and_reset_generators():
    a = BatchGenerator(batch_size=2, x=np.arange(6), y=np.arange(6))  # 3 batches
    b = BatchGenerator(batch_size=1, x=np.arange(5), y=np.arange(5))  # 5 batches
    assert JointBatchGen([a, b], n_batches="max").n_batches == 5
    assert JointBatchGen([a, b], n_batches=4).n_batches == 4
    gen = JointBatchGen([a, b], reset_generators=True, return_batch_ids=True)
    assert gen.n_batches == 3
    b_ids = [next(gen)[0][-1].tolist() for _ in range(5)]
    assert b_ids == [[1, 0], [1, 1], [1, 2], [1, 0], [1, 1]]  # b restarts with every joint epoch
    for bad in ("mean", 0):
        with pytest.raises(ValueError, match="n_batches"):
            JointBatchGen([a, b], n_batches=bad)


def test_joint_batch_gen_of_structured_x_and_annotation_lists(db):
    mult = open_table(db, "/mult/data")
    gen = JointBatchGen([BatchGenerator(data_table=mult, batch_size=3, x_field=["spec", "gamma"]),
                         BatchGenerator(data_table=mult, batch_size=2, x_field=["spec", "gamma"])],
                        return_batch_ids=True)
    ids, X, Y = next(gen)
    assert len(X) == 5 and isinstance(X, list) and X[0]["gamma"].shape == (5, 2)
    assert [float(x["spec"][0, 0]) for x in X] == [0.0, 1.0, 2.0, 0.0, 1.0]
    assert ids.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1]]
    audio, annot = open_table(db, "/audio"), open_table(db, "/audio_annot")
    gen = JointBatchGen([BatchGenerator(data_table=audio, annot_table=annot, batch_size=2,
                                        annot_in_data_table=False, select_indices=[2, 0, 1]),
                         BatchGenerator(data_table=audio, annot_table=annot, batch_size=1,
                                        annot_in_data_table=False, select_indices=[3])])
    X, Y = next(gen)
    assert X.shape == (4, 5) and Y == [[], [0, 1], [2], [0, 1]]


def test_joint_batch_gen_refuses_different_formats(db):
    mult = open_table(db, "/mult/data")
    with pytest.raises(ValueError, match="different formats"):
        JointBatchGen([BatchGenerator(data_table=mult, batch_size=2, x_field=["spec", "gamma"]),
                       BatchGenerator(data_table=mult, batch_size=2, x_field="spec")])
    with pytest.raises(ValueError, match="batch_generators is empty"):
        JointBatchGen([])


def ketos_joint(gens, n_batches, shuffle_batch, reset_generators, steps):
    """ketos 2.7.1's JointBatchGen over KetosReference members: ids per batch."""
    for g in gens:  # format probe: one batch, then reset
        g.next()
        g.reset()
    count, out = 0, []
    for _ in range(steps):
        ids = np.vstack([np.column_stack((k * np.ones(len(i)), i)).astype(int)
                         for k, (i, _) in enumerate(g.next() for g in gens)])
        if shuffle_batch:
            perm = np.arange(len(ids))
            np.random.shuffle(perm)
            ids = ids[perm]
        count += 1
        if count > n_batches - 1:
            count = 0
            if reset_generators:
                for g in gens:
                    g.reset()
        out.append((ids.tolist(), rng_state()))
    return out


@settings(max_examples=40)
@given(sizes=st.lists(st.tuples(st.integers(1, 12), st.integers(1, 5), st.booleans(),
                                st.booleans()), min_size=1, max_size=3),
       shuffle_batch=st.booleans(), reset_generators=st.booleans(), seed=st.integers(0, 2**31))
def test_joint_batch_gen_matches_ketos_ids_and_rng(sizes, shuffle_batch, reset_generators, seed):
    np.random.seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gens = [BatchGenerator(batch_size=bs, x=np.arange(n), y=np.arange(n), shuffle=sh,
                               refresh_on_epoch_end=rf) for n, bs, sh, rf in sizes]
        gen = JointBatchGen(gens, shuffle_batch=shuffle_batch, reset_generators=reset_generators,
                            return_batch_ids=True)
    got = []
    for _ in range(7):
        ids, X, _Y = next(gen)
        assert X.tolist() == ids[:, 1].tolist()
        got.append((ids.tolist(), rng_state()))
    np.random.seed(seed)
    refs = [KetosReference(n, bs, shuffle=sh, refresh=rf) for n, bs, sh, rf in sizes]
    assert got == ketos_joint(refs, min(r.n_batches for r in refs), shuffle_batch,
                              reset_generators, 7)


def test_joint_batch_gen_reset_and_indices():
    a = BatchGenerator(batch_size=2, x=np.arange(4), y=np.arange(4))
    b = BatchGenerator(batch_size=2, x=np.arange(4), y=np.arange(4))
    gen = JointBatchGen([a, b], return_batch_ids=True,
                        output_transform_func=lambda X, Y: (X + 100, Y))
    gen.reset([[3, 2, 1, 0], None])
    ids, X, _ = next(gen)
    assert ids.tolist() == [[0, 3], [0, 2], [1, 0], [1, 1]] and X.tolist() == [103, 102, 100, 101]
    assert [i.tolist() for i in gen.get_indices()] == [[3, 2, 1, 0], [0, 1, 2, 3]]
    gen.set_shuffle(True)
    assert a.shuffle and b.shuffle
    with pytest.raises(ValueError, match="one entry .* per generator"):
        gen.reset([None])


# --------------------------------------------------------------------------- MultiModalBatchGen
def stack_modes(X, Y):
    X = [np.stack([x[i] for x in X]) for i in range(len(X[0]))]
    Y = next(np.stack([y[i] for y in Y]) for i in range(len(Y[0])))
    return X, Y


def test_multi_modal_batch_gen_zips_modalities(db):
    tbl = open_table(db, "/mult/data")
    gen = MultiModalBatchGen([BatchGenerator(data_table=tbl, batch_size=3, x_field="spec"),
                              BatchGenerator(data_table=tbl, batch_size=3, x_field="gamma")],
                             output_transform_func=stack_modes)
    X, Y = next(gen)
    np.testing.assert_array_equal(X[0], tbl.col("spec")[:3])
    np.testing.assert_array_equal(X[1], tbl.col("gamma")[:3])
    assert Y.tolist() == [0, 1, 0]
    ids, X, Y = MultiModalBatchGen([BatchGenerator(data_table=tbl, batch_size=2, x_field="spec"),
                                    BatchGenerator(data_table=tbl, batch_size=2, x_field="gamma")],
                                   return_batch_ids=True).__next__()
    assert ids == [0, 1] and len(X) == 2 and len(X[0]) == 2 and X[1][1].shape == (5, 2)


def test_multi_modal_shuffles_from_the_first_epoch_and_stays_aligned_after_refreshes():
    """ketos ignored shuffle in the first epoch and let modalities drift apart after a refresh."""
    n = 12
    spec = BatchGenerator(batch_size=4, x=np.arange(n) * 10, y=np.arange(n))
    wave = BatchGenerator(batch_size=4, x=-np.arange(n), y=np.arange(n), shuffle=True,
                          refresh_on_epoch_end=True)
    np.random.seed(5)
    expected = np.arange(n)
    np.random.shuffle(expected)
    np.random.seed(5)
    gen = MultiModalBatchGen([spec, wave], shuffle=True, refresh_on_epoch_end=True,
                             return_batch_ids=True)
    epochs = []
    for _ in range(4):
        ids_epoch = []
        for _ in range(gen.n_batches):
            ids, X, Y = next(gen)
            assert [[int(m) for m in inst] for inst in X] == [[i * 10, -i] for i in ids]
            assert [[int(m) for m in inst] for inst in Y] == [[i, i] for i in ids]
            ids_epoch += ids
        epochs.append(ids_epoch)
    assert epochs[0] == expected.tolist()  # shuffled in the first epoch
    assert all(sorted(e) == list(range(n)) for e in epochs)
    assert len({tuple(e) for e in epochs}) == 4  # refreshed every epoch
    assert spec.shuffle and wave.shuffle


def test_multi_modal_without_refresh_repeats_and_without_shuffle_is_in_order():
    a = BatchGenerator(batch_size=2, x=np.arange(5), y=np.arange(5), shuffle=True)
    b = BatchGenerator(batch_size=2, x=np.arange(5), y=np.arange(5))
    gen = MultiModalBatchGen([a, b], return_batch_ids=True)
    assert not a.shuffle
    assert [next(gen)[0] for _ in range(4)] == [[0, 1], [2, 3, 4], [0, 1], [2, 3, 4]]
    np.random.seed(2)
    gen = MultiModalBatchGen([a, b], shuffle=True, return_batch_ids=True)
    first = [next(gen)[0] for _ in range(2)]
    assert [next(gen)[0] for _ in range(2)] == first


def test_multi_modal_batch_size_and_checks():
    a = BatchGenerator(batch_size=2, x=np.arange(9), y=np.arange(9))
    b = BatchGenerator(batch_size=4, x=np.arange(9), y=np.arange(9))
    with pytest.raises(ValueError, match="different batch_size"):
        MultiModalBatchGen([a, b])
    gen = MultiModalBatchGen([a, b], batch_size=3, return_batch_ids=True)
    assert gen.batch_size == a.batch_size == b.batch_size == 3
    assert gen.n_batches == a.n_batches == 3
    assert [next(gen)[0] for _ in range(3)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    with pytest.raises(ValueError, match="different numbers of instances"):
        MultiModalBatchGen([a, BatchGenerator(batch_size=3, x=np.arange(6), y=np.arange(6))])
    with pytest.raises(TypeError, match="is not a BatchGenerator"):
        MultiModalBatchGen([a, object()])
    c = BatchGenerator(batch_size=3, x=np.arange(9), y=np.arange(9), n_extend=1)
    with pytest.raises(ValueError, match="different n_extend"):
        MultiModalBatchGen([a, c])


def test_multi_modal_reset_and_switches():
    a = BatchGenerator(batch_size=2, x=np.arange(4), y=np.arange(4))
    b = BatchGenerator(batch_size=2, x=np.arange(4) + 10, y=np.arange(4))
    gen = MultiModalBatchGen([a, b])
    assert len(next(gen)) == 2
    gen.set_return_batch_ids(True)
    gen.reset(indices=[3, 1, 2, 0])
    ids, X, _ = next(gen)
    assert ids == [3, 1] and [[int(v) for v in inst] for inst in X] == [[3, 13], [1, 11]]
    assert gen.get_indices().tolist() == [3, 1, 2, 0] == b.get_indices().tolist()
    gen.reset()
    assert next(gen)[0] == [3, 1] and gen.batch_count == 1
    gen.set_shuffle(True)
    assert gen.shuffle and a.shuffle and b.shuffle


# --------------------------------------------------------------------------- database_interface
def test_open_table(db):
    table = open_table(db, "/group_1/table_data")
    assert isinstance(table, tables.Table) and table.nrows == 11
    with pytest.raises(tables.NoSuchNodeError, match="no table '/nowhere'.*leaves there:.*/audio"):
        open_table(db, "/nowhere")
    with pytest.raises(TypeError, match="h5file="):
        open_table("db.h5", "/audio")


def test_module_exports():
    assert set(data_feeding.__all__) >= {"BatchGenerator", "JointBatchGen", "MultiModalBatchGen"}
