"""Datasets: downloads against a local HTTP server, checksums, retries, caching, format readers."""

import bz2
import gzip
import hashlib
import http.server
import io
import struct
import tarfile
import threading

import numpy as np
import pytest

from ladle.datasets import (ChecksumError, DownloadError, data_dir, download, download_and_verify,
                            extract_tar, formats)


class Server:
    """127.0.0.1 server over a dict of files; supports Range; can drop the first transfer midway."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.log: list[tuple[str, str | None]] = []
        self.drop_first: set[str] = set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.lstrip("/")
                rng = self.headers.get("Range")
                server.log.append((name, rng))
                if name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                body = data[start:]
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name in server.drop_first:
                    server.drop_first.discard(name)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # drop the connection midway
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_and_cache(server, tmp_path):
    server.files["a.bin"] = b"x" * 5000
    path = download_and_verify(server.url + "a.bin", tmp_path / "a.bin", sha256=sha(b"x" * 5000),
                               progress=False)
    assert path.read_bytes() == b"x" * 5000
    download_and_verify(server.url + "a.bin", path, sha256=sha(b"x" * 5000), progress=False)
    assert len(server.log) == 1  # the second call downloads nothing


def test_bad_checksum_deletes_the_file(server, tmp_path):
    server.files["a.bin"] = b"tampered"
    with pytest.raises(ChecksumError, match="expected 0000.*the file was deleted"):
        download_and_verify(server.url + "a.bin", tmp_path / "a.bin", sha256="0" * 64,
                            progress=False)
    assert not (tmp_path / "a.bin").exists()


def test_md5_checksum(server, tmp_path):
    server.files["a.bin"] = b"abc"
    download_and_verify(server.url + "a.bin", tmp_path / "a.bin",
                        md5=hashlib.md5(b"abc").hexdigest(), progress=False)
    assert (tmp_path / "a.bin").exists()


def test_dropped_connection_resumes_with_a_range_request(server, tmp_path):
    data = bytes(range(256)) * 400
    server.files["big.bin"] = data
    server.drop_first.add("big.bin")
    path = download(server.url + "big.bin", tmp_path / "big.bin", retries=2, backoff=0.01,
                    progress=False)
    assert path.read_bytes() == data
    assert server.log[0] == ("big.bin", None)
    assert server.log[1][1] == f"bytes={len(data) // 2}-"  # only the rest was asked for
    assert not (tmp_path / "big.bin.part").exists()


def test_404_is_a_clear_error_without_retrying(server, tmp_path):
    with pytest.raises(DownloadError, match="could not download .*missing.bin"):
        download(server.url + "missing.bin", tmp_path / "m", retries=3, backoff=0.01,
                 progress=False)
    assert len(server.log) == 1


def test_unreachable_host_retries_then_fails(tmp_path):
    with pytest.raises(DownloadError, match="after 3 attempts"):
        download("http://127.0.0.1:9/x", tmp_path / "x", retries=2, backoff=0.01, timeout=1,
                 progress=False)


def test_extract_tar_refuses_path_escapes(tmp_path):
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(ValueError, match="refusing to extract"):
        extract_tar(evil, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("LADLE_HOME", raising=False)
    assert data_dir() == tmp_path / ".ladle"
    (tmp_path / ".ladle.cfg").write_text("[paths]\ndata_dir = ~/cache\n")
    assert data_dir() == tmp_path / "cache"
    monkeypatch.setenv("LADLE_HOME", str(tmp_path / "env"))
    assert data_dir() == tmp_path / "env"
    monkeypatch.delenv("LADLE_HOME")
    (tmp_path / ".ladle.cfg").write_text("not a config")
    with pytest.raises(ValueError, match="not a valid config file"):
        data_dir()


# ------------------------------------------------------------------ real formats, generated

def idx_bytes(arr: np.ndarray) -> bytes:
    header = struct.pack(">I", 0x0800 | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return gzip.compress(header + arr.astype(np.uint8).tobytes())


def test_read_mnist(tmp_path):
    rng = np.random.default_rng(0)
    files = {}
    for prefix, n in (("train", 6), ("t10k", 4)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        for kind, arr in (("images-idx3", x), ("labels-idx1", y)):
            p = tmp_path / f"{prefix}-{kind}-ubyte.gz"
            p.write_bytes(idx_bytes(arr))
            files[p.name] = p
        if prefix == "train":
            x_train, y_train = x, y
    out = formats.read_mnist(files)
    assert out["train"][0].shape == (6, 1, 28, 28) and out["train"][0].dtype == np.uint8
    np.testing.assert_array_equal(out["train"][0][:, 0], x_train)
    assert out["train"][1].dtype == np.int64 and out["train"][1].tolist() == y_train.tolist()
    assert out["test"][0].shape == (4, 1, 28, 28)


def test_read_idx_truncated():
    raw = gzip.decompress(idx_bytes(np.zeros((3, 2, 2))))[:-1]
    with pytest.raises(ValueError, match="truncated or corrupt"):
        formats.read_idx(io.BytesIO(raw))


def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def cifar_archive(path, hundred: bool, labels_per_split):
    """A CIFAR binary archive: records of label byte(s) + 3,072 pixel bytes (R, G, B planes)."""
    rng = np.random.default_rng(1)
    images = {}
    with tarfile.open(path, "w:gz") as tar:
        if hundred:
            root, parts = "cifar-100-binary", {"train": ["train.bin"], "test": ["test.bin"]}
            add_bytes(tar, f"{root}/fine_label_names.txt",
                      "\n".join(f"f{i}" for i in range(100)).encode())
            add_bytes(tar, f"{root}/coarse_label_names.txt",
                      "\n".join(f"k{i}" for i in range(20)).encode())
        else:
            root = "cifar-10-batches-bin"
            parts = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)],
                     "test": ["test_batch.bin"]}
            add_bytes(tar, f"{root}/batches.meta.txt",
                      "\n".join(f"c{i}" for i in range(10)).encode() + b"\n\n")
        for split, members in parts.items():
            images[split] = []
            for member in members:
                labels = np.asarray(labels_per_split[split], np.uint8).reshape(-1, 2 if hundred else 1)
                pixels = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
                images[split].append(pixels.reshape(-1, 3, 32, 32))
                add_bytes(tar, f"{root}/{member}", np.hstack([labels, pixels]).tobytes())
    return {k: np.concatenate(v) for k, v in images.items()}


def test_read_cifar10_and_100(tmp_path):
    c10 = tmp_path / "cifar-10-binary.tar.gz"
    images = cifar_archive(c10, False, {"train": [1, 2, 3], "test": [4, 5, 6]})
    splits, classes = formats.read_cifar(c10)
    assert splits["train"]["image"].shape == (15, 3, 32, 32)  # five batches of three
    np.testing.assert_array_equal(splits["test"]["image"], images["test"])
    assert splits["test"]["label"].tolist() == [4, 5, 6] and classes["label"][:2] == ["c0", "c1"]

    c100 = tmp_path / "cifar-100-binary.tar.gz"
    cifar_archive(c100, True, {"train": [[4, 55], [19, 99]], "test": [[0, 1], [3, 7]]})
    splits, classes = formats.read_cifar(c100)
    assert splits["train"]["fine"].tolist() == [55, 99] and splits["train"]["coarse"].tolist() == [4, 19]
    assert len(classes["fine"]) == 100 and classes["coarse"][19] == "k19"


def test_read_cifar_truncated(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        add_bytes(tar, "cifar-10-batches-bin/batches.meta.txt", b"a b")
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            add_bytes(tar, f"cifar-10-batches-bin/{name}", bytes(3072))  # one byte short
    with pytest.raises(ValueError, match="records are truncated"):
        formats.read_cifar(bad)


def test_read_svhn(tmp_path):
    from scipy.io import savemat

    x = np.random.default_rng(2).integers(0, 256, (32, 32, 3, 5), dtype=np.uint8)
    savemat(tmp_path / "train_32x32.mat", {"X": x, "y": np.array([[10], [1], [2], [10], [9]])})
    out = formats.read_svhn({"train_32x32.mat": tmp_path / "train_32x32.mat"})
    images, labels = out["train"]
    assert images.shape == (5, 3, 32, 32) and labels.tolist() == [0, 1, 2, 0, 9]
    np.testing.assert_array_equal(images[3], np.transpose(x[..., 3], (2, 0, 1)))


def test_read_stl10(tmp_path):
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (2, 3, 96, 96), dtype=np.uint8)  # (N, C, H, W)
    raw = np.ascontiguousarray(img.transpose(0, 1, 3, 2)).tobytes()  # column-major on disk
    archive = tmp_path / "stl10_binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add_bytes(tar, "stl10_binary/class_names.txt", b"airplane\nbird\n")
        for split in ("train", "test"):
            add_bytes(tar, f"stl10_binary/{split}_X.bin", raw)
            add_bytes(tar, f"stl10_binary/{split}_y.bin", bytes([1, 10]))
        add_bytes(tar, "stl10_binary/unlabeled_X.bin", raw)
    out, classes = formats.read_stl10(archive, unlabeled=True)
    np.testing.assert_array_equal(out["train"][0], img)
    assert out["test"][1].tolist() == [0, 9] and classes == ["airplane", "bird"]
    assert out["unlabeled"][1].tolist() == [-1, -1]


def test_read_usps(tmp_path):
    line = lambda label, v: (f"{label} " + " ".join(f"{i}:{v}" for i in range(1, 257))).encode()
    (tmp_path / "usps.bz2").write_bytes(bz2.compress(line(1, -1) + b"\n" + line(10, 1) + b"\n"))
    (tmp_path / "usps.t.bz2").write_bytes(bz2.compress(line(5, 0) + b"\n"))
    out = formats.read_usps({"usps.bz2": tmp_path / "usps.bz2", "usps.t.bz2": tmp_path / "usps.t.bz2"})
    x, y = out["train"]
    assert x.shape == (2, 1, 16, 16) and y.tolist() == [0, 9]
    assert int(x[0].max()) == 0 and int(x[1].min()) == 255
    assert int(out["test"][0][0, 0, 0, 0]) == 128 and out["test"][1].tolist() == [4]


# ------------------------------------------------------------------ conversion to stores

from dataclasses import replace  # noqa: E402

from ladle.datasets import DATASETS, RemoteFile  # noqa: E402
from ladle.datasets.api import digits, load, prepare  # noqa: E402


def serve_mnist(server, monkeypatch, sizes=(10, 4), seed=0):
    """Small MNIST-format files on ``server`` and a registry entry with their checksums.

    Returns the training images served.
    """
    rng = np.random.default_rng(seed)
    files = []
    for prefix, n in zip(("train", "t10k"), sizes):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        for kind, arr in (("images-idx3", x), ("labels-idx1", y)):
            name = f"{prefix}-{kind}-ubyte.gz"
            server.files[name] = idx_bytes(arr)
            files.append(RemoteFile(name, sha256=sha(server.files[name])))
        if prefix == "train":
            train_x = x
    monkeypatch.setitem(DATASETS, "mnist", replace(DATASETS["mnist"], files=tuple(files)))
    return train_x


@pytest.fixture
def mnist_server(server, monkeypatch):
    serve_mnist(server, monkeypatch)
    return server


def test_load_downloads_converts_and_caches(mnist_server, tmp_path):
    ds = load("mnist", n_val=3, root=tmp_path / "mnist", base_url=mnist_server.url, progress=False)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (7, 3, 4)
    assert ds.class_names == [str(i) for i in range(10)]
    batch = next(iter(ds.loader("val", batch_size=3)))
    assert batch["image"].shape == (3, 1, 28, 28) and batch["image"].dtype == np.float32
    assert 0.0 <= batch["image"].min() and batch["image"].max() <= 1.0
    assert batch["label"].tolist() == [7, 8, 9]  # the last n_val training samples
    requests = len(mnist_server.log)
    again = load("mnist", root=tmp_path / "mnist", base_url=mnist_server.url, progress=False)
    assert len(mnist_server.log) == requests and len(again.train) == 10  # nothing downloaded


def test_store_is_readable_by_plain_pytables_with_class_names(mnist_server, tmp_path):
    import tables

    path = prepare("mnist", root=tmp_path, layout="NHWC", base_url=mnist_server.url,
                   progress=False)
    with tables.open_file(path) as h5:
        assert h5.root.train.coldtypes["image"] == np.dtype((np.uint8, (28, 28, 1)))
        assert len(h5.root.test) == 4
        assert list(h5.root.train.attrs["class_names"][:2]) == [b"0", b"1"]


def test_scale_range_and_raw_uint8(mnist_server, tmp_path):
    scaled = load("mnist", root=tmp_path, base_url=mnist_server.url, scale=(-1, 1), progress=False)
    raw = load("mnist", root=tmp_path, base_url=mnist_server.url, scale=None, progress=False)
    idx = np.array([0, 5])
    r = raw.train.read(idx)["image"]
    s = scaled.train.read(idx)["image"]
    assert r.dtype == np.uint8
    np.testing.assert_allclose(s, r / 127.5 - 1, atol=1e-6)


def test_a_bad_checksum_on_a_dataset_file_is_an_error(mnist_server, monkeypatch, tmp_path):
    spec = DATASETS["mnist"]
    bad = (replace(spec.files[0], sha256="0" * 64),) + spec.files[1:]
    monkeypatch.setitem(DATASETS, "mnist", replace(spec, files=bad))
    with pytest.raises(ChecksumError, match="train-images-idx3-ubyte.gz"):
        prepare("mnist", root=tmp_path, base_url=mnist_server.url, progress=False)
    assert not list(tmp_path.glob("*.h5"))


def test_dataset_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="name='imagenet' is not one of"):
        prepare("imagenet", root=tmp_path)
    with pytest.raises(TypeError, match="mnist has no option \\['labels'\\]"):
        prepare("mnist", root=tmp_path, labels="coarse")
    with pytest.raises(ValueError, match="layout='NCWH' is not one of"):
        prepare("mnist", root=tmp_path, layout="ncwh")


def test_digits_offline(tmp_path):
    ds = digits(n_val=100, root=tmp_path)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (1400, 100, 297)
    x = ds.test.read(np.arange(5))["image"]
    assert x.shape == (5, 1, 8, 8) and x.dtype == np.float32 and x.max() <= 1.0
    with pytest.raises(ValueError, match="n_val=1500 leaves no training samples"):
        digits(n_val=1500, root=tmp_path)


def test_cifar100_store_keeps_both_label_sets(server, monkeypatch, tmp_path):
    archive = tmp_path / "c100.tar.gz"
    cifar_archive(archive, True, {"train": [[4, 55], [19, 99], [0, 1]],
                                  "test": [[4, 55], [19, 99], [0, 1]]})
    server.files["cifar-100-binary.tar.gz"] = archive.read_bytes()
    spec = DATASETS["cifar100"]
    monkeypatch.setitem(DATASETS, "cifar100", replace(spec, files=(
        RemoteFile("cifar-100-binary.tar.gz", sha256=sha(archive.read_bytes())),)))
    fine = load("cifar100", root=tmp_path / "a", base_url=server.url, progress=False)
    batch = fine.train.read(np.array([1]))
    assert batch["label"].tolist() == [99] and batch["label_coarse"].tolist() == [19]
    assert fine.class_names[99] == "f99" and fine.attrs["class_names_coarse"][19] == "k19"
    coarse = load("cifar100", root=tmp_path / "b", base_url=server.url, labels="coarse",
                  progress=False)
    assert coarse.test.read(np.array([1]))["label"].tolist() == [19]
    assert coarse.class_names[19] == "k19" and coarse.attrs["class_names_fine"][99] == "f99"


def test_digits_nhwc(tmp_path):
    ds = digits(root=tmp_path, layout="NHWC")
    assert ds.train.fields["image"].shape == (8, 8, 1) and ds.attrs["layout"] == "NHWC"


def test_cli_build_dataset(mnist_server, monkeypatch, tmp_path, capsys):
    import tables

    from ladle.cli import main

    monkeypatch.setenv("LADLE_HOME", str(tmp_path / "home"))
    out = tmp_path / "mnist.h5"
    assert main(["build", "--dataset", "mnist", "-o", str(out), "--mirror", mnist_server.url]) == 0
    assert "wrote dataset mnist" in capsys.readouterr().out
    with tables.open_file(out) as h5:
        assert len(h5.root.train) == 10 and len(h5.root.test) == 4
    assert main(["build", "--dataset", "imagenet", "-o", str(tmp_path / "x.h5")]) == 2
    assert "name='imagenet' is not one of" in capsys.readouterr().err
    assert main(["build", "-o", str(tmp_path / "y.h5")]) == 2
    assert "or --dataset NAME" in capsys.readouterr().err


def test_every_published_file_is_pinned_by_a_checksum():
    import re

    for name, spec in DATASETS.items():
        for f in spec.files:
            if name == "usps":  # not in TensorFlow Datasets' SHA-256 list: torchvision's MD5s
                assert f.sha256 is None and re.fullmatch(r"[0-9a-f]{32}", f.md5)
            else:
                assert re.fullmatch(r"[0-9a-f]{64}", f.sha256), (name, f.name)
