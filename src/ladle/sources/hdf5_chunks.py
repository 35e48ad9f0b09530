"""Direct chunk reads for Blosc/Blosc2-compressed HDF5 nodes: raw chunk in, decoded rows out.

PyTables decodes Blosc2 tables through a slow path of its own; reading each raw chunk with
``Leaf.read_chunk`` and decoding it with python-blosc2 is two to three times faster, and the wanted
rows go from the decoded chunk straight to their places in the batch (each chunk decoded once per
read). A decoder is only used after it decoded the node's first chunk exactly as PyTables reads
it; any other node reads through HDF5 as usual.

Example:
    >>> from ladle.sources.hdf5_chunks import chunk_decoder
    >>> chunk_decoder(None) is None
    True
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np

__all__ = ["ChunkDecoder", "chunk_decoder"]


def _blosc2_frame(raw: bytes, out: np.ndarray) -> None:
    import blosc2

    blosc2.schunk_from_cframe(raw, copy=False).decompress_chunk(0, dst=out)


def _blosc(raw: bytes, out: np.ndarray) -> None:
    import blosc2

    blosc2.decompress(raw, dst=out)


class ChunkDecoder:
    """Reads rows of one chunked node chunk by chunk: ``read_chunk`` (under the HDF5 lock) + decode.

    Example:
        >>> ChunkDecoder.__name__
        'ChunkDecoder'
    """

    def __init__(self, leaf: Any, decode: Callable[[bytes, np.ndarray], None], dtype: np.dtype,
                 row_shape: tuple[int, ...]):
        self.leaf = leaf
        self.decode = decode
        self.chunk_rows = int(leaf.chunkshape[0])
        self.nrows = int(leaf.nrows)
        self.dtype = dtype
        self.row_shape = row_shape
        self.tail = (0,) * (len(leaf.shape) - 1)

    def chunk(self, start: int, lock: Any, out: np.ndarray | None = None) -> np.ndarray:
        """The decoded chunk beginning at row ``start`` (all its rows, padding included)."""
        with lock:
            raw = self.leaf.read_chunk((start,) + self.tail)
        if out is None:
            out = np.empty((self.chunk_rows,) + self.row_shape, self.dtype)
        if len(raw) == out.nbytes:  # HDF5 skipped the filter (data did not compress): raw rows
            out.reshape(-1).view(np.uint8)[:] = np.frombuffer(raw, np.uint8)
        else:
            self.decode(raw, out)
        return out

    def gather(self, rows: np.ndarray, outputs: list[tuple[np.ndarray, str | None]],
               lock: Any) -> int:
        """Put row ``rows[k]`` at position ``k`` of every output, decoding each chunk once.

        ``outputs`` holds ``(array, field)`` pairs (``field`` for a table's column, None for the
        whole row). Returns the number of chunks decoded.

        Example:
            >>> ChunkDecoder.gather.__doc__.split()[0]
            'Put'
        """
        c = self.chunk_rows
        chunk_of = rows // c
        order = np.argsort(chunk_of, kind="stable")
        ids = chunk_of[order]
        cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        firsts = np.concatenate(([0], cuts)).tolist()
        lasts = np.concatenate((cuts, [rows.size])).tolist()
        scratch = None
        for lo, hi in zip(firsts, lasts):
            c0 = int(ids[lo]) * c
            pos = order[lo:hi]
            local = rows[pos] - c0
            whole = (hi - lo == c and pos[-1] - pos[0] == c - 1 and local[0] == 0
                     and np.all(np.diff(local) == 1) and np.all(np.diff(pos) == 1))
            if whole and len(outputs) == 1 and outputs[0][1] is None:
                p0 = int(pos[0])  # a whole chunk, in order, of an array node: decode in place
                self.chunk(c0, lock, outputs[0][0][p0:p0 + c])
                continue
            scratch = self.chunk(c0, lock, scratch)
            for out, field in outputs:
                src = scratch if field is None else scratch[field]
                out[pos] = src[local]
        return len(firsts)


def chunk_decoder(leaf: Any, lock: Any = None) -> ChunkDecoder | None:
    """A :class:`ChunkDecoder` for a Blosc/Blosc2-compressed chunked node, or None.

    The node must be chunked along rows only, compressed by Blosc or Blosc2 alone (no checksum),
    in this machine's byte order, and its first chunk must decode to what PyTables reads.

    Example:
        >>> chunk_decoder(object()) is None
        True
    """
    filters = getattr(leaf, "filters", None)
    chunks = getattr(leaf, "chunkshape", None)
    if filters is None or not chunks or not filters.complevel or filters.fletcher32:
        return None
    if tuple(chunks[1:]) != tuple(leaf.shape[1:]) or not hasattr(leaf, "read_chunk"):
        return None
    if getattr(leaf, "byteorder", "irrelevant") not in (sys.byteorder, "irrelevant"):
        return None
    complib = filters.complib or ""
    if complib.startswith("blosc2"):
        decode = _blosc2_frame
    elif complib.startswith("blosc"):
        decode = _blosc
    else:
        return None
    try:
        import blosc2  # noqa: F401  (a dependency of PyTables)
    except ImportError:  # pragma: no cover - installed with tables
        return None
    if hasattr(leaf, "colnames"):  # a table
        dtype, row_shape = leaf.dtype, ()
    else:
        dtype, row_shape = leaf.atom.dtype, tuple(int(s) for s in leaf.shape[1:])
    decoder = ChunkDecoder(leaf, decode, np.dtype(dtype), row_shape)
    if decoder.nrows == 0:
        return None
    try:  # trust it only once it reproduces PyTables' own reading of the first chunk
        n = min(decoder.chunk_rows, decoder.nrows)
        got = decoder.chunk(0, lock if lock is not None else _NoLock())[:n]
        if got.tobytes() != np.ascontiguousarray(leaf.read(0, n)).tobytes():
            return None
    except Exception:
        return None
    return decoder


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None
