import io
import pickle
import sys
import time
import warnings
import wave

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from httpserver import serve
from ladle import BatchError, Loader
from ladle.decoders import (FunctionDecoder, ImageDecoder, NpyDecoder, Pad, TextDecoder,
                            WavDecoder)
from ladle.encoders import (BinaryEncoder, IdentityEncoder, LabelEncoder, MultiLabelEncoder,
                            OneHotEncoder, UnknownLabelError)
from ladle.sources.base import Field
from ladle.sources.inventory import InventorySource, SampleError, SampleWarning
from ladle.sources.inventory_columns import ListColumn, StringColumn, Table

N = 12
IMG = ImageDecoder(mode="RGB", size=(4, 4))


def pixel(batch):
    """The value every pixel of each image has (images are uniform: pixel value = row id)."""
    return batch["x"][:, 0, 0, 0].tolist()


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """12 uniform 4x4 PNGs (pixel value = row id) in 3 class folders, plus an inventory CSV and
    broken files: bad/corrupt.png (not an image) and bad/truncated.png (half a PNG)."""
    root = tmp_path_factory.mktemp("images")
    rows = []
    for i in range(N):
        label = f"c{i % 3}"
        (root / label).mkdir(exist_ok=True)
        Image.fromarray(np.full((4, 4, 3), i, np.uint8)).save(root / label / f"{i:03d}.png")
        rows.append({"id": f"{i:03d}", "label": label, "path": f"{label}/{i:03d}.png",
                     "weight": i / 2, "text": f"t{i}.txt"})
        (root / f"t{i}.txt").write_text("w" * i)
    (root / "bad").mkdir()
    (root / "bad" / "corrupt.png").write_bytes(b"this is not a png")
    big = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8)
    Image.fromarray(noise).save(big, "PNG")
    (root / "bad" / "truncated.png").write_bytes(big.getvalue()[: len(big.getvalue()) // 2])
    frame = pd.DataFrame(rows)
    frame.to_csv(root / "inventory.csv", index=False)
    return root, frame


@pytest.fixture(scope="module")
def server(image_dir):
    with serve(image_dir[0], slow=5.0) as s:
        yield s


def with_bad(frame, **bad):
    """A copy of the inventory whose 'path' is replaced in the given rows."""
    frame = frame.copy()
    for row, path in bad.items():
        frame.loc[int(row[1:]), "path"] = path
    return frame


# ---------------------------------------------------------------------- where the data is
def test_root_id_and_id_mapper(image_dir):
    root, frame = image_dir
    src = InventorySource(frame, IMG, root=root, id="id", id_mapper="{label}/{id}.png",
                          target="label")
    batch = src.read(np.array([5, 0, 5]))
    assert pixel(batch) == [5, 0, 5] and batch["y"].tolist() == [2, 0, 2]
    assert batch.indices.tolist() == [5, 0, 5] and batch.skipped.size == 0
    by_fn = InventorySource(frame, IMG, root=str(root), id="id",
                            id_mapper=lambda i: f"c{int(i) % 3}/{i}.png")
    assert pixel(by_fn.read(np.array([7]))) == [7]
    assert src.locations([1]) == [f"{root}/c1/001.png"]
    assert src.fields["x"].shape == (4, 4, 3) and src.fields["y"].dtype == np.int64


def test_csv_and_parquet_inventories(image_dir, tmp_path):
    root, frame = image_dir
    src = InventorySource(root / "inventory.csv", IMG, root=root, id="id",
                          id_mapper="{label}/{id}.png", columns=["id", "weight"])
    batch = src.read(np.array([11]))
    assert batch["id"].tolist() == ["011"]  # ids read as text, leading zeros kept
    assert batch["weight"].tolist() == [5.5] and pixel(batch) == [11]
    frame.to_parquet(tmp_path / "inv.parquet")
    par = InventorySource(tmp_path / "inv.parquet", IMG, root=root, path="path")
    assert pixel(par.read(np.array([3]))) == [3]
    with pytest.raises(ValueError, match="neither a CSV.*nor a Parquet"):
        InventorySource(tmp_path / "inv.xlsx")


def test_path_column_without_root_and_file_urls(image_dir, monkeypatch):
    root, frame = image_dir
    absolute = frame.assign(path=[str(root / p) for p in frame["path"]])
    assert pixel(InventorySource(absolute, IMG, path="path").read(np.array([2]))) == [2]
    file_urls = frame.assign(path=["file://" + str(root / p) for p in frame["path"]])
    assert pixel(InventorySource(file_urls, IMG, url="path").read(np.array([4]))) == [4]
    assert pixel(InventorySource(frame, IMG, root="file://" + str(root), path="path")
                 .read(np.array([6]))) == [6]
    monkeypatch.chdir(root)  # relative paths without a root are relative to the current directory
    assert pixel(InventorySource(frame, IMG, path="path").read(np.array([1]))) == [1]


@pytest.mark.parametrize("bad", ["../secret.png", "c0/../../secret.png", "/etc/passwd", "~/x.png",
                                 "http://elsewhere/x.png", "c0\\..\\..\\x.png"])
def test_paths_escaping_the_root_are_refused(image_dir, bad):
    root, frame = image_dir
    with pytest.raises(ValueError, match=r"column 'path' of row 3 is .*escapes root="):
        InventorySource(with_bad(frame, r3=bad), IMG, root=root, path="path")


def test_escaping_ids_and_field_columns_are_refused(image_dir):
    root, frame = image_dir
    with pytest.raises(ValueError, match="column 'id' of row 0 is '../000.png'"):
        InventorySource(frame, IMG, root=root, id="id", id_mapper="../{id}.png")
    bad = frame.assign(text=["../t.txt"] * N)
    with pytest.raises(ValueError, match="column 'text' of row 0"):
        InventorySource(bad, {"t": (TextDecoder(), "text")}, root=root, path="path")


def test_argument_errors_say_what_to_do(image_dir):
    root, frame = image_dir
    with pytest.raises(ValueError, match=r"one of path=, id= or url=.*\['path', 'id'\]"):
        InventorySource(frame, IMG, root=root, path="path", id="id")
    with pytest.raises(ValueError, match="not both"):
        InventorySource(frame, IMG, root=root, base_url="http://x/", path="path")
    with pytest.raises(ValueError, match="id='id' needs root= or base_url="):
        InventorySource(frame, IMG, id="id")
    with pytest.raises(ValueError, match="give id= too"):
        InventorySource(frame, IMG, root=root, path="path", id_mapper="{id}")
    with pytest.raises(ValueError, match="no path=, id= or url= column"):
        InventorySource(frame, IMG)
    with pytest.raises(ValueError, match="give target= too"):
        InventorySource(frame, encoder=LabelEncoder())
    with pytest.raises(ValueError, match="on_error='ignore' is not one of"):
        InventorySource(frame, on_error="ignore")
    with pytest.raises(KeyError, match="column 'nope' is not in the inventory"):
        InventorySource(frame, target="nope")
    with pytest.raises(TypeError, match="column 'weight' must hold paths"):
        InventorySource(frame, IMG, root=root, path="weight")
    with pytest.raises(ValueError, match="field 'y' is made twice"):
        InventorySource(frame.assign(y=1), target="label", columns=["y"])
    with pytest.raises(TypeError, match="must return a string"):
        InventorySource(frame, IMG, root=root, id="id", id_mapper=lambda i: 3)
    with pytest.raises(ValueError, match="no path or URL in row 2"):
        InventorySource(with_bad(frame, r2=None), IMG, root=root, path="path")
    with pytest.raises(TypeError, match="inventory is a int"):
        InventorySource(3)


def test_from_directory_with_class_folders(image_dir, tmp_path):
    root, _ = image_dir
    src = InventorySource.from_directory(root, "*.PNG")  # case-insensitive; bad/ is a class too
    assert len(src) == N + 2
    assert src.encoders["y"].classes_.tolist() == ["bad", "c0", "c1", "c2"]
    assert src.column("path")[:2].tolist() == ["bad/corrupt.png", "bad/truncated.png"]
    good = InventorySource.from_directory(root, ("0*.png", "x.none"), data=IMG)
    assert len(good) == N
    batch = good.read(np.array([0, 1, 4, 8]))  # sorted: c0/000, c0/003, c1/001, c2/002
    assert pixel(batch) == [0, 3, 1, 2] and batch["y"].tolist() == [0, 0, 1, 2]
    flat = InventorySource.from_directory(root, "t*.txt", label=None)
    assert list(flat.fields) == ["x"] and flat.read(np.array([1]))["x"].tolist() == ["w"]
    by_fn = InventorySource.from_directory(root, "0*.png", data=IMG, label=lambda p: p[:2])
    assert by_fn.encoders["y"].classes_.tolist() == ["c0", "c1", "c2"]
    with pytest.raises(ValueError, match="'t0.txt' is not in a class folder"):
        InventorySource.from_directory(root, "t*.txt")
    with pytest.raises(FileNotFoundError, match=r"matches '\*.gif'"):
        InventorySource.from_directory(root, "*.gif")
    with pytest.raises(ValueError, match="label='folder' must be"):
        InventorySource.from_directory(root, "*.png", label="folder")


# ---------------------------------------------------------------------- error policy
def test_missing_file_raises_naming_row_id_path_and_cause(image_dir):
    root, frame = image_dir
    src = InventorySource(frame, IMG, root=root, id="id", id_mapper="{label}/{id}.png")
    missing = frame.assign(label=["zz"] + list(frame["label"][1:]))
    bad = InventorySource(missing, IMG, root=root, id="id", id_mapper="{label}/{id}.png")
    with pytest.raises(SampleError) as info:
        bad.read(np.array([1, 0]))
    msg = str(info.value)
    assert "row 0 (id '000')" in msg and f"{root}/zz/000.png" in msg and "FileNotFoundError" in msg
    assert isinstance(info.value.__cause__, FileNotFoundError)
    again = pickle.loads(pickle.dumps(info.value))  # crosses process boundaries
    assert str(again) == msg and again.row == 0
    with pytest.raises(BatchError, match=r"batch 0 of epoch 0.*row 0 \(id '000'\)"):
        list(Loader(bad, 4))
    assert pixel(src.read(np.array([0]))) == [0]


def test_corrupt_file_raise_names_field_and_cause(image_dir):
    root, frame = image_dir
    src = InventorySource(with_bad(frame, r2="bad/corrupt.png", r3="bad/truncated.png"), IMG,
                          root=root, path="path")
    with pytest.raises(SampleError, match=r"row 2: cannot read '.*corrupt.png' for field 'x': "
                                          r"UnidentifiedImageError.*\(1 more bad rows"):
        src.read(np.arange(5))
    with pytest.raises(SampleError, match=r"row 3: .*truncated.png' for field 'x': OSError"):
        src.read(np.array([3]))


def test_skip_replaces_by_next_good_sample_and_keeps_size(image_dir):
    root, frame = image_dir
    bad = with_bad(frame, r1="bad/corrupt.png", r4="nope.png", r5="bad/truncated.png")
    src = InventorySource(bad, IMG, root=root, path="path", target="label", columns=["id"],
                          on_error="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # skip is quiet (but counted)
        batch = src.read(np.array([0, 1, 4, 5, 6, 1]))
    assert batch.size == 6 and batch.indices.tolist() == [0, 1, 4, 5, 6, 1]
    assert batch.skipped.tolist() == [1, 4, 5, 1]
    # every field of a bad sample comes from the next good one (cyclically)
    assert pixel(batch) == [0, 6, 6, 6, 6, 0]
    assert batch["id"].tolist() == ["000", "006", "006", "006", "006", "000"]
    assert batch["y"].tolist() == [0, 0, 0, 0, 0, 0]
    with pytest.raises(RuntimeError, match="every sample of the batch failed"):
        src.read(np.array([1, 4]))


def test_warn_emits_one_warning_per_replaced_sample(image_dir):
    root, frame = image_dir
    src = InventorySource(with_bad(frame, r2="missing.png"), IMG, root=root, path="path",
                          on_error="warn")
    with pytest.warns(SampleWarning, match=r"row 2: cannot read .*missing.png.*replaced by row 3"):
        batch = src.read(np.array([2, 3]))
    assert batch.skipped.tolist() == [2] and pixel(batch) == [3, 3]


def test_loader_counts_skips_and_stops_past_max_error_ratio(image_dir):
    root, frame = image_dir
    src = InventorySource(with_bad(frame, r3="nope.png"), IMG, root=root, path="path",
                          on_error="skip")
    loader = Loader(src, 4, max_error_ratio=0.1)
    assert sum(b.size for b in loader) == N
    assert loader.stats.skipped == 1 and loader.stats.skipped_ids == [3]
    worse = InventorySource(with_bad(frame, r3="nope.png", r7="nope.png"), IMG, root=root,
                            path="path", on_error="skip")
    with pytest.raises(RuntimeError, match=r"2 samples of epoch 0 could not be read.*\[3, 7\]"):
        list(Loader(worse, 4, max_error_ratio=0.1))


@given(st.lists(st.integers(0, 19), min_size=1, max_size=30))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
def test_skip_property(tmp_path_factory, indices):
    root = _npy_root(tmp_path_factory)
    src = InventorySource({"p": [f"{i}.npy" for i in range(20)]}, NpyDecoder("int64", ()),
                          root=root, path="p", on_error="skip")
    idx = np.array(indices)
    bad = idx % 4 == 3  # rows 3, 7, 11, ... have no file
    if bad.all():
        with pytest.raises(RuntimeError, match="every sample"):
            src.read(idx)
        return
    batch = src.read(idx)
    x = batch["x"]
    assert x.size == idx.size and batch.indices.tolist() == indices
    assert batch.skipped.tolist() == idx[bad].tolist()
    np.testing.assert_array_equal(x[~bad], idx[~bad])  # good rows are themselves
    good_in_batch = set(idx[~bad].tolist())
    assert all(v in good_in_batch for v in x[bad].tolist())  # bad ones: a good row of the batch


_NPY: dict = {}


def _npy_root(factory):
    if "root" not in _NPY:
        root = factory.mktemp("npy")
        for i in range(20):
            if i % 4 != 3:
                np.save(root / f"{i}.npy", np.int64(i))
        _NPY["root"] = root
    return _NPY["root"]


# ---------------------------------------------------------------------- HTTP
def test_http_base_url_and_url_semantics(image_dir, server):
    root, frame = image_dir
    src = InventorySource(frame, IMG, base_url=server.url + "/", url="path", target="label")
    batch = src.read(np.arange(N))
    assert pixel(batch) == list(range(N)) and batch["y"].tolist() == [i % 3 for i in range(N)]
    with Loader(src, 5, shuffle=True, seed=0, workers=2) as threads:  # a client per thread
        assert sorted(p for b in threads for p in pixel(b)) == list(range(N))
    # urljoin: a base without a trailing slash drops its last segment; absolute URLs replace it
    other = frame.assign(path=[f"c{i % 3}/{i:03d}.png" for i in range(N)])
    src = InventorySource(other, IMG, base_url=server.url + "/c0", url="path")
    assert pixel(src.read(np.array([4]))) == [4]
    absolute = frame.assign(path=[f"{server.url}/{p}" for p in frame["path"]])
    assert pixel(InventorySource(absolute, IMG, url="path").read(np.array([9]))) == [9]
    by_id = InventorySource(frame, IMG, base_url=server.url + "/", id="id",
                            id_mapper="{label}/{id}.png")
    assert pixel(by_id.read(np.array([10]))) == [10]
    under_root = InventorySource(frame, IMG, root=server.url + "/c0/..", path="path")
    assert under_root.locations([0]) == [f"{server.url}/c0/../c0/000.png"]
    assert pixel(InventorySource(frame, IMG, root=server.url, path="path").read([8])) == [8]


def test_http_errors_follow_the_policy(image_dir, server):
    root, frame = image_dir
    bad = with_bad(frame, r1="404/x.png", r2="slow/c2/002.png", r3="truncated/c0/003.png",
                   r4="bad/truncated.png", r5="status/500/x.png")
    kw = dict(base_url=server.url + "/", url="path", timeout=0.5, retries=1, retry_wait=0.01)
    src = InventorySource(bad, IMG, on_error="warn", **kw)
    with pytest.warns(SampleWarning) as record:
        batch = src.read(np.arange(7))
    assert batch.skipped.tolist() == [1, 2, 3, 4, 5] and pixel(batch) == [0, 6, 6, 6, 6, 6, 6]
    text = [str(w.message) for w in record]
    assert "FileNotFoundError" in text[0] and "/404/x.png" in text[0]
    assert "TimeoutError: no complete response within timeout=0.5 s" in text[1]
    assert "ClientPayloadError" in text[2] or "ContentLength" in text[2]
    assert "'x'" in text[3] and "OSError" in text[3]  # a PNG cut short: fetched, not decodable
    assert "500" in text[4]
    assert server.hits["/404/x.png"] == 1  # a 404 is final
    assert server.hits["/status/500/x.png"] == 2  # a 500 is retried, retries=1 times
    raising = InventorySource(bad, IMG, **kw)
    with pytest.raises(SampleError, match=rf"row 1: cannot read '{server.url}/404/x.png'"):
        raising.read(np.array([0, 1]))


def test_http_retries_are_bounded(image_dir, server):
    root, frame = image_dir
    flaky = with_bad(frame, r0="flaky/2/c0/000.png", r1="flaky/5/c1/001.png")
    src = InventorySource(flaky, IMG, base_url=server.url + "/", url="path", retries=2,
                          retry_wait=0.01, on_error="skip")
    batch = src.read(np.array([0, 1]))
    assert batch.skipped.tolist() == [1] and pixel(batch) == [0, 0]
    assert server.hits["/flaky/2/c0/000.png"] == 3  # two failures, then success
    assert server.hits["/flaky/5/c1/001.png"] == 3  # 1 + retries attempts, then given up


def test_file_input_decoders_local_and_http(image_dir, server):
    root, frame = image_dir
    first_bytes = FunctionDecoder(lambda f, row: np.frombuffer(f.read(4), np.uint8), input="file",
                                  dtype="uint8", shape=(4,))
    for kw in (dict(root=root, path="path"), dict(base_url=server.url + "/", url="path")):
        src = InventorySource(frame, first_bytes, **kw)
        assert src.read(np.array([0]))["x"].tolist() == [[137, 80, 78, 71]]  # the PNG signature
    missing = InventorySource(with_bad(frame, r0="none.png"), first_bytes, root=root, path="path")
    with pytest.raises(SampleError, match="row 0: cannot read .*none.png"):
        missing.read(np.array([0]))


# ---------------------------------------------------------------------- fields
def _wav(tmp_path, name, frames):
    with wave.open(str(tmp_path / name), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.full(frames, 8192, "<i2").tobytes())


def test_multi_input_decoders_targets_and_columns(image_dir, tmp_path):
    root, frame = image_dir
    for i in range(N):
        _wav(root, f"{i}.wav", i + 1)
    inv = frame.assign(tags=[["a", "b"] if i % 2 else ["b"] for i in range(N)],
                       audio=[f"{i}.wav" for i in range(N)])
    seen_rows = []

    def size_from_row(data, row):
        seen_rows.append((row.index, row["id"], row["weight"]))
        return np.float32(row["weight"])

    lengths = FunctionDecoder(lambda items, rows: np.array([len(t) for t in items]), batch=True,
                              dtype="int64", shape=())
    src = InventorySource(
        inv, {"image": IMG, "text": (TextDecoder(), "text"), "n": (lengths, "text"),
              "w": FunctionDecoder(size_from_row, input="row", dtype="float32", shape=()),
              "audio": (Pad(WavDecoder(channels=1)), "audio")},
        root=root, path="path", columns=["id", "weight"],
        targets={"y": ("label", OneHotEncoder()), "tags": ("tags", MultiLabelEncoder())})
    assert list(src.fields) == ["image", "text", "n", "w", "audio", "audio_rate", "y", "tags", "id",
                                "weight"]
    assert src.fields["text"].dtype == object and src.fields["audio"].shape == (-1, 1)
    assert src.fields["id"].dtype == np.dtype("U3") and src.fields["tags"].shape == (2,)
    batch = src.read(np.array([3, 1]))
    assert batch["image"].shape == (2, 4, 4, 3) and batch["image"][:, 0, 0, 0].tolist() == [3, 1]
    assert batch["text"].tolist() == ["www", "w"] and batch["n"].tolist() == [3, 1]
    assert batch["w"].tolist() == [1.5, 0.5] and seen_rows == [(3, "003", 1.5), (1, "001", 0.5)]
    assert batch["audio"].shape == (2, 4, 1)
    assert batch["audio"][1, :, 0].tolist() == [0.25, 0.25, 0, 0]
    assert batch["audio_rate"].tolist() == [8000, 8000]
    assert batch["y"].tolist() == [[1, 0, 0], [0, 1, 0]]
    assert batch["tags"].tolist() == [[1, 1], [1, 1]]
    assert src.read(np.array([2]))["tags"].tolist() == [[0, 1]]
    assert batch["id"].tolist() == ["003", "001"] and batch["weight"].tolist() == [1.5, 0.5]


def test_encoders_are_fitted_on_the_whole_inventory_and_shared(image_dir):
    root, frame = image_dir
    enc = OneHotEncoder()
    src = InventorySource(frame, target="label", encoder=enc)
    assert enc.fitted and src.encoders["y"] is enc and src.fields["y"].shape == (3,)
    val = InventorySource(frame.iloc[:2], target="label", encoder=enc)  # fitted: used as is
    assert val.fields["y"].shape == (3,)
    unknown = frame.assign(label=["c0"] * (N - 1) + ["c9"])
    with pytest.raises(UnknownLabelError, match=r"column 'label': unknown label 'c9' in row 11"):
        InventorySource(unknown, target="label", encoder=enc)
    missing = frame.assign(label=[None] + ["c0"] * (N - 1))
    with pytest.raises(ValueError, match="row 0 has no label"):
        InventorySource(missing, target="label")
    listed = InventorySource(frame.assign(t=["a|b"] * N),
                             targets={"t": ("t", MultiLabelEncoder("|"))})
    assert listed.read(np.array([0]))["t"].tolist() == [[1.0, 1.0]]


def test_process_workers_give_the_same_batches(image_dir):
    root, frame = image_dir
    src = InventorySource(frame, IMG, root=root, path="path", target="label")
    serial = [(b.indices.tolist(), pixel(b)) for b in Loader(src, 5, shuffle=True, seed=3)]
    with Loader(src, 5, shuffle=True, seed=3, workers=2, backend="process") as loader:
        parallel = [(b.indices.tolist(), pixel(b)) for b in loader]
    assert parallel == serial and all(i == p for idx, px in serial for i, p in zip(idx, px))


def test_any_fsspec_filesystem_and_unknown_protocols(image_dir):
    import fsspec

    root, frame = image_dir
    mem = fsspec.filesystem("memory")
    for i in (0, 1):
        mem.pipe(f"/inv/{frame['path'][i]}", (root / frame["path"][i]).read_bytes())
    src = InventorySource(frame.iloc[:2], IMG, root="memory://inv", path="path")
    assert pixel(src.read(np.array([1, 0]))) == [1, 0]
    odd = frame.assign(path=["nope://host/x.png"] + [f"{root}/{p}" for p in frame["path"][1:]])
    skipping = InventorySource(odd, IMG, url="path", on_error="skip")
    assert skipping.read(np.array([0, 1])).skipped.tolist() == [0]
    with pytest.raises(SampleError, match="row 0: cannot read 'nope://host/x.png'"):
        InventorySource(odd, IMG, url="path").read(np.array([0]))


def test_batch_decoder_failures_fail_the_batch_and_give_extras(image_dir):
    root, frame = image_dir

    def sizes(items, rows):
        if any(len(x) == 0 for x in items):
            raise ValueError("empty file")
        return {"": np.array([len(x) for x in items]), "even": np.array([len(x) % 2 == 0
                                                                         for x in items])}

    class Sizes(FunctionDecoder):
        @property
        def extras(self):
            return {"even": Field(np.dtype(bool), ())}

    src = InventorySource(frame, {"n": Sizes(sizes, batch=True, dtype="int64", shape=())},
                          root=root, path="text")
    out = src.read(np.array([2, 3]))
    assert out["n"].tolist() == [2, 3] and out["n_even"].tolist() == [True, False]
    with pytest.raises(RuntimeError, match=r"batch decoder .* of field 'n' failed on rows \[0, 1\]"
                                           r".*ValueError: empty file"):
        src.read(np.array([0, 1]))


def test_more_argument_errors(image_dir, monkeypatch):
    root, frame = image_dir
    file_batch = FunctionDecoder(lambda f, r: 0, input="file", batch=True)
    with pytest.raises(ValueError, match="batch decoders take input='bytes' or 'row'"):
        InventorySource(frame, file_batch, root=root, path="path")
    with pytest.raises(ValueError, match="target= makes field 'y', which targets= also names"):
        InventorySource(frame, target="label", targets={"y": "label"})
    with pytest.raises(TypeError, match="give a ladle.encoders encoder"):
        InventorySource(frame, targets={"y": ("label", "onehot")})

    class ObjectCodes(LabelEncoder):
        def to_codes(self, values, rows=None):
            return np.array([None] * len(values), dtype=object)

    with pytest.raises(TypeError, match="gave Python objects for column 'label'"):
        InventorySource(frame, target="label", encoder=ObjectCodes())
    with pytest.raises(TypeError, match=r"data\['x'\] must be a decoder or \(decoder, column\)"):
        InventorySource(frame, {"x": (IMG, "path", "extra")}, root=root, path="path")
    with pytest.raises(ValueError, match="timeout=0 must be a positive number"):
        InventorySource(frame, timeout=0)
    with pytest.raises(ValueError, match="retries=-1 must be >= 0"):
        InventorySource(frame, retries=-1)
    with pytest.raises(ValueError, match="concurrency=0 must be >= 1"):
        InventorySource(frame, concurrency=0)
    with pytest.raises(TypeError, match="id_mapper=3 must be a callable"):
        InventorySource(frame, IMG, root=root, id="id", id_mapper=3)
    # '..' and ':' inside a name do not escape the root
    ok = InventorySource(with_bad(frame, r0="c0/a..b:1.png"), root=root, path="path")
    assert ok.locations([0]) == [f"{root}/c0/a..b:1.png"]
    assert repr(ok) == "InventorySource(len=12, fields=[], on_error='raise')"
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    http = InventorySource(frame, IMG, base_url="http://127.0.0.1:9/", url="path")
    with pytest.raises(SampleError, match=r"ImportError: reading http\(s\) URLs needs aiohttp: "
                                          r"pip install ladle\[http\]"):
        http.read(np.array([0]))


def test_binary_and_identity_targets_and_no_timeout(image_dir, server):
    root, frame = image_dir
    src = InventorySource(frame.assign(odd=[i % 2 for i in range(N)]), IMG, root=root, path="path",
                          targets={"odd": ("odd", BinaryEncoder()),
                                   "w": ("weight", IdentityEncoder("float32"))})
    batch = src.read(np.array([3, 4]))
    assert batch["odd"].tolist() == [1.0, 0.0] and batch["w"].tolist() == [1.5, 2.0]
    assert src.fields["odd"].dtype == np.float32 and src.fields["w"].dtype == np.float32
    remote = InventorySource(frame, IMG, base_url=server.url + "/", url="path", timeout=None)
    assert pixel(remote.read(np.array([5]))) == [5]


# ---------------------------------------------------------------------- storage
def test_large_csv_builds_fast_and_pickles_without_python_objects(tmp_path):
    n = 100_000
    frame = pd.DataFrame({"id": [f"img_{i:06d}" for i in range(n)],
                          "label": [f"class{i % 7}" for i in range(n)],
                          "tags": [f"t{i % 3}|t{i % 5}" for i in range(n)], "w": np.arange(n) / n})
    frame.to_csv(tmp_path / "big.csv", index=False)
    start = time.perf_counter()
    src = InventorySource(tmp_path / "big.csv", ImageDecoder(), root=tmp_path, id="id",
                          id_mapper="{id}.png", target="label",
                          targets={"tags": ("tags", MultiLabelEncoder("|"))}, columns=["w"])
    elapsed = time.perf_counter() - start
    print(f"\n100,000-row CSV -> InventorySource in {elapsed:.3f} s")
    assert elapsed < 5, f"building took {elapsed:.2f} s"
    arrays = []

    class Spy(pickle.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, np.ndarray):
                arrays.append(obj)
            assert type(obj).__module__.split(".")[0] != "pandas", type(obj)
            return NotImplemented

    buf = io.BytesIO()
    Spy(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(src)
    assert arrays and not [a for a in arrays if a.dtype == object]
    assert len(buf.getvalue()) < 80 * n  # compact: a few times the text itself
    again = pickle.loads(buf.getvalue())
    assert again.locations([99_999]) == [f"{tmp_path}/img_099999.png"]
    np.testing.assert_array_equal(again._codes["y"], src._codes["y"])


def test_columns_keep_strings_lists_numbers_and_missing_values():
    table = Table.from_frame({"s": ["a", None, "çé"], "l": [["x"], [], ["y", "z"]], "n": [1, 2, 3],
                              "f": pd.Series([1.0, None, 2.0]), "b": [True, False, True],
                              "i": pd.array([1, None, 3], dtype="Int64")})
    assert isinstance(table["s"], StringColumn) and isinstance(table["l"], ListColumn)
    assert table["s"].take(np.array([2, 1])).tolist() == ["çé", ""] and table.row(1)["s"] is None
    assert table.values("s").tolist() == ["a", None, "çé"]
    assert table.take("l", np.array([2, 0])).tolist() == [["y", "z"], ["x"]]
    assert table["n"].dtype == np.int64 and table["b"].dtype == bool
    assert np.isnan(table["i"][1]) and table["i"][2] == 3.0
    sub = table.subset(np.array([2, 1]))
    assert sub["s"][0] == "çé" and sub["s"][1] is None and sub["l"][0] == ["y", "z"]
    with pytest.raises(TypeError, match="column 'd' holds dict values"):
        Table.from_frame({"d": [{"a": 1}]})
    with pytest.raises(TypeError, match="mixed or nested"):
        ListColumn.from_values([["a", [1]]], "m")


# ---------------------------------------------------------------------- splits
def test_split_sizes_are_disjoint_and_reproducible():
    src = InventorySource({"c": [f"k{i % 4}" for i in range(103)]}, columns=["c"])
    train, val, test = src.split(0.7, 0.2, 0.1, seed=5)
    assert (len(train), len(val), len(test)) == (72, 21, 10)
    rows = [p.column("c") for p in (train, val, test)]
    assert sum(len(r) for r in rows) == 103
    again = src.split(0.7, 0.2, 0.1, seed=5)
    assert all((a.column("c") == b.column("c")).all() for a, b in zip((train, val, test), again))
    other = src.split(0.7, 0.2, 0.1, seed=6)
    assert not (other.val.column("c") == val.column("c")).all() or len(val) == 0
    ids = InventorySource({"r": np.arange(103)}, columns=["r"]).split(val=20, test=3, seed=1)
    parts = [p.column("r") for p in ids]
    assert [len(p) for p in parts] == [80, 20, 3]
    assert sorted(np.concatenate(parts).tolist()) == list(range(103))
    assert all((np.diff(p) > 0).all() for p in parts)  # inventory order kept
    assert ids.train.read(np.array([0]))["r"].tolist() == [parts[0][0]]
    assert InventorySource({"r": np.arange(5)}).split(1.0).val is None


def test_stratified_split_keeps_class_shares():
    labels = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    src = InventorySource({"c": labels}, target="c")
    for seed in range(5):
        train, val, test = src.split(0.6, 0.2, 0.2, stratify="c", seed=seed)
        for part, frac in ((train, 0.6), (val, 0.2), (test, 0.2)):
            counts = {k: int((part.column("c") == k).sum()) for k in "abc"}
            for k, total in (("a", 60), ("b", 30), ("c", 10)):
                assert abs(counts[k] - frac * total) <= 1, (seed, counts)
        np.testing.assert_array_equal(val.encoders["y"].classes_, ["a", "b", "c"])
    by_array = src.split(val=0.5, stratify=np.array(labels, dtype=object), seed=0)
    assert int((by_array.val.column("c") == "c").sum()) == 5


@given(st.integers(1, 120), st.floats(0, 0.5), st.floats(0, 0.5), st.integers(1, 5),
       st.integers(0, 2 ** 32), st.booleans())
def test_split_property(n, val, test, k, seed, stratified):
    labels = np.array([f"k{i % k}" for i in range(n)])
    src = InventorySource({"r": np.arange(n), "c": labels}, columns=["r"])
    parts = src.split(val=val, test=test, stratify="c" if stratified else None, seed=seed)
    rows = [np.empty(0, np.int64) if p is None else p.column("r") for p in parts]
    for r, frac in zip(rows[1:], (val, test)):
        assert abs(len(r) - frac * n) <= 1
    together = np.concatenate(rows)
    assert sorted(together.tolist()) == list(range(n))  # disjoint, nothing lost
    again = src.split(val=val, test=test, stratify="c" if stratified else None, seed=seed)
    assert all((a is None and b is None) or (a.column("r") == b.column("r")).all()
               for a, b in zip(parts, again))


def test_split_argument_errors():
    src = InventorySource({"c": list("abcd")})
    with pytest.raises(ValueError, match="cover 3 of 4 rows"):
        src.split(0.5, 0.25)
    with pytest.raises(ValueError, match="take more than the 4 rows"):
        src.split(val=3, test=3)
    with pytest.raises(ValueError, match=r"val=1.5 must be a fraction in \[0, 1\]"):
        src.split(val=1.5)
    with pytest.raises(TypeError, match="val='x' must be"):
        src.split(val="x")
    with pytest.raises(ValueError, match=r"stratify has shape \(2,\)"):
        src.split(val=0.5, stratify=[1, 2])
