"""S2: an HDF5 store on disk, page-cached, read in shuffled batches of 256.

X float32 N×3×32×32 (N = 200,000: 2.4 GB) plus int64 labels, written by ``ladle.store`` in the
ketos table layout with chunks of 64 rows, once uncompressed and once blosc2/lz4-compressed.
Peers, in one run on the same file: h5py sequential read of the file (the limit), h5py
``ds[sorted idx]`` per batch, PyTables ``Table.read_coordinates(sorted idx)`` per batch.
ladle: ``HDF5Source`` + ``Loader`` with block-shuffled epochs (``order="block"``: whole chunks) and
fully random epochs (``shuffle=True``).

Targets: ladle block-shuffled >= 0.8 × sequential read; ladle fully random >= 5 × h5py fancy.

Run small while developing::

    python -c "from benchmarks import s2_hdf5; print(*s2_hdf5.main(n=20_000), sep='\\n')"
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

import ladle
from ladle.sources.hdf5 import HDF5Source
from ladle.store import StoreWriter

from .common import Row, best_rate, consume, save, table

BATCH = 256
CHUNK = 64
SHAPE = (3, 32, 32)


def make_store(path: str, n: int, compression: str) -> None:
    """Write N image-like rows (uint8 levels as float32, so blosc has something to do)."""
    rng = np.random.default_rng(0)
    with StoreWriter(path, chunk_rows=CHUNK, compression=compression, expected_rows=n) as w:
        for start in range(0, n, 8192):
            k = min(8192, n - start)
            x = rng.integers(0, 256, (k,) + SHAPE, dtype=np.uint8).astype(np.float32) / 255
            w.append({"x": x, "label": rng.integers(0, 10, k)})
    with open(path, "rb") as f:  # page-cache the file
        while f.read(1 << 24):
            pass


def h5py_sequential(path: str):
    import h5py
    import hdf5plugin  # noqa: F401  (blosc filters for h5py)

    def run():
        with h5py.File(path, "r") as f:
            ds = f["data"]
            n = ds.shape[0]
            for s in range(0, n, BATCH):
                ds[s:s + BATCH]
        return n
    return run


def random_batches(n: int, count: int) -> list[np.ndarray]:
    perm = np.random.default_rng(1).permutation(n)
    return [np.sort(perm[i * BATCH:(i + 1) * BATCH]) for i in range(min(count, n // BATCH))]


def h5py_fancy(path: str, batches: list[np.ndarray]):
    import h5py
    import hdf5plugin  # noqa: F401

    def run():
        with h5py.File(path, "r") as f:
            ds = f["data"]
            for idx in batches:
                ds[idx]
        return len(batches) * BATCH
    return run


def tables_coordinates(path: str, batches: list[np.ndarray]):
    import tables

    def run():
        with tables.open_file(path) as f:
            t = f.root.data
            for idx in batches:
                t.read_coordinates(idx)
        return len(batches) * BATCH
    return run


def ladle_run(path: str, limit: int | None = None, **kw):
    src = HDF5Source(path, fields=["x", "label"])
    loader = ladle.Loader(src, batch_size=BATCH, seed=0, **kw)

    def run():
        return consume(loader, limit)
    return run, loader


def scenario(name: str, path: str, n: int, repeat: int, random_batches_n: int) -> list[Row]:
    batches = random_batches(n, random_batches_n)
    seq = best_rate(h5py_sequential(path), repeat)
    rows = [Row(name, "h5py sequential read", seq, "the limit")]
    run, loader = ladle_run(path, order="block")
    rows.append(Row(name, "ladle block shuffle", best_rate(run, repeat),
                    f"block = {CHUNK}-row chunks"))
    run, loader = ladle_run(path, order="block", workers=2)
    rows.append(Row(name, "ladle block shuffle, 2 threads", best_rate(run, repeat)))
    loader.close()
    note = f"first {len(batches)} batches"
    run, loader = ladle_run(path, limit=len(batches), shuffle=True)
    rows.append(Row(name, "ladle full shuffle", best_rate(run, repeat), note))
    rows.append(Row(name, "h5py ds[sorted idx]", best_rate(h5py_fancy(path, batches), 1), note))
    coords = best_rate(tables_coordinates(path, batches), 1)
    rows.append(Row(name, "PyTables read_coordinates", coords, note))
    return rows


def main(n: int = 200_000, repeat: int = 2, random_batches_n: int = 60,
         folder: str | None = None,
         compressions: tuple[str, ...] = ("none", "blosc2:lz4")) -> list[str]:
    """Run S2 on ``n`` rows for each compression; returns one markdown table per store."""
    out = []
    with tempfile.TemporaryDirectory(prefix="ladle-s2-", dir=folder) as tmp:
        for compression in compressions:
            label = "uncompressed" if compression == "none" else compression
            path = os.path.join(tmp, f"s2-{compression.replace(':', '-')}.h5")
            make_store(path, n, compression)
            name = f"S2 {label} ({os.path.getsize(path) / 1e9:.2f} GB)"
            rows = scenario(name, path, n, repeat, random_batches_n)
            os.remove(path)
            save(rows, f"S2-{compression.replace(':', '-')}")
            out.append(table(rows, "h5py sequential read"))
    return out


if __name__ == "__main__":
    print(*main(), sep="\n\n")
