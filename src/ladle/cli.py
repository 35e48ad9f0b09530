"""The ``ladle`` command: build, inspect and stream HDF5 stores, and run the demo.

``ladle build INVENTORY.csv --root DIR -o store.h5`` turns files listed in a CSV (``.npy``,
``.png``/``.jpg``, ``.wav``, ``.txt``) with a label column into a store (``ladle build arrays.npz
-o store.h5`` too); ``ladle info store.h5`` describes it; ``ladle iterate store.h5 --batch-size 64
--shuffle`` streams batches and reports samples/s and MB/s; ``ladle demo`` trains on digits.

User mistakes (a missing file, a wrong node, a bad row) print one line on stderr and exit with 2.

Example:
    >>> from ladle.cli import main
    >>> main(["info", "/no/such/store.h5"])
    2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Sequence

import numpy as np

__all__ = ["main", "build_parser"]

USER_ERRORS = (OSError, ValueError, LookupError, TypeError, ImportError)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ladle`` and its subcommands.

    Example:
        >>> build_parser().parse_args(["iterate", "s.h5", "--batch-size", "8"]).batch_size
        8
    """
    from . import demo

    parser = argparse.ArgumentParser(prog="ladle", description="Mini-batches from HDF5 stores: "
                                     "build a store, inspect it, stream it, run the demo.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    b = sub.add_parser("build", help="files listed in a CSV, or an .npz, become an HDF5 store",
                       description="Build an HDF5 store from a CSV inventory of files (.npy, .png, "
                       ".jpg, .wav, .txt) with a label column, or from the arrays of an .npz file.")
    b.add_argument("source", nargs="?", default=None, help="INVENTORY.csv or ARRAYS.npz")
    b.add_argument("--dataset", default=None, metavar="NAME",
                   help="download, verify and convert a standard dataset instead (mnist, "
                        "fashion_mnist, cifar10, cifar100, svhn, stl10, usps)")
    b.add_argument("--image-layout", choices=("NCHW", "NHWC"), default="NCHW",
                   help="image layout of a --dataset store (default NCHW)")
    b.add_argument("--mirror", default=None, metavar="URL",
                   help="download a --dataset from this URL instead of the official mirrors")
    b.add_argument("-o", "--output", required=True, help="the store to write (.h5)")
    b.add_argument("--root", default=None,
                   help="folder the CSV's relative paths start from (default: the CSV's folder)")
    b.add_argument("--path-column", default=None,
                   help="CSV column of file paths (default: path, file, filename or filepath)")
    b.add_argument("--label-column", default="label", help="CSV column of labels (default label)")
    b.add_argument("--node", default="/data", help="node to write (default /data)")
    b.add_argument("--layout", choices=("table", "arrays"), default="table",
                   help="one table (ketos layout, default) or one array node per field")
    b.add_argument("--compression", default="blosc2:lz4",
                   help="blosc2:lz4 (default), zlib, none, or any PyTables complib")
    b.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk (default ~1 MiB)")
    b.add_argument("--skip-errors", action="store_true",
                   help="skip rows that cannot be read (counted in the summary) instead of "
                   "stopping")
    b.add_argument("--force", action="store_true", help="replace the output if it exists")
    b.set_defaults(func=_cmd_build)

    i = sub.add_parser("info", help="nodes, fields, rows, chunking, compression, label counts",
                       description="Describe an HDF5 store: every node with its fields (dtype, "
                       "shape), rows, chunking, compression, attributes and label counts.")
    i.add_argument("store", help="the HDF5 store")
    i.add_argument("--label-column", default="label", help="column to count labels of")
    i.set_defaults(func=_cmd_info)

    it = sub.add_parser("iterate", help="stream batches and report samples/s and MB/s",
                        description="Stream batches of a store through a Loader with a progress "
                        "bar; report samples/s and MB/s at the end.")
    it.add_argument("store", help="the HDF5 store")
    it.add_argument("--node", default="/data",
                    help="table, array node, or comma-separated array nodes (default /data)")
    it.add_argument("--fields", nargs="+", default=None, help="fields to read (default all)")
    it.add_argument("--where", default=None,
                    help="PyTables query selecting rows, e.g. 'label == 1'")
    it.add_argument("--batch-size", type=int, default=64, help="samples per batch (default 64)")
    it.add_argument("--shuffle", action="store_true", help="a new random order every epoch")
    it.add_argument("--order", choices=("sequential", "shuffle", "block"), default=None,
                    help="block: shuffle whole chunks (fast on compressed stores)")
    it.add_argument("--epochs", type=int, default=1, help="epochs to stream (default 1)")
    it.add_argument("--workers", type=int, default=0, help="reader threads (default 0)")
    it.add_argument("--seed", type=int, default=0, help="seed of the order (default 0)")
    it.set_defaults(func=_cmd_iterate)

    d = sub.add_parser("demo", help="train a classifier on digits fed from an HDF5 store",
                       description=demo.__doc__.splitlines()[0])
    demo.add_arguments(d)
    d.set_defaults(func=lambda args: demo.run(args))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ladle`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Example:
        >>> main(["iterate", "/no/such.h5"])
        2
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        if args.debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"ladle {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ladle {args.command}: interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------------------------------- build


def _check_output(path: str, force: bool) -> None:
    if os.path.exists(path) and not force:
        raise FileExistsError(f"{path!r} exists; pass --force to replace it")


def _cmd_build(args: argparse.Namespace) -> int:
    from .store import write_store

    _check_output(args.output, args.force)
    if args.dataset is not None:
        return _build_dataset(args)
    if args.source is None:
        raise ValueError("give an INVENTORY.csv or ARRAYS.npz to build from, or --dataset NAME")
    if not os.path.exists(args.source):
        raise FileNotFoundError(f"{args.source!r} does not exist")
    options = dict(node=args.node, layout=args.layout, compression=args.compression,
                   chunk_rows=args.chunk_rows)
    t0 = time.perf_counter()
    ext = os.path.splitext(args.source)[1].lower()
    try:
        if ext == ".npz":
            with np.load(args.source, allow_pickle=False) as npz:
                columns = {k: npz[k] for k in npz.files}
            rows = write_store(args.output, columns, **options)
            skipped: list[str] = []
        elif ext == ".csv":
            rows, skipped = _build_inventory(args, options)
        else:
            raise ValueError(f"{args.source!r} is neither a .csv inventory nor an .npz file")
    except BaseException:
        if os.path.exists(args.output):
            os.remove(args.output)  # never leave a half-written store behind
        raise
    from .sources.hdf5 import HDF5Source

    with HDF5Source(args.output, node=args.node) as src:
        fields = ", ".join(f"{k} {f.dtype}{list(f.shape)}" for k, f in src.fields.items())
    print(f"wrote {rows} rows to {args.output} ({fields}) in {time.perf_counter() - t0:.1f} s")
    if skipped:
        print(f"skipped {len(skipped)} bad rows; first: {skipped[0]}")
    return 0


def _build_dataset(args: argparse.Namespace) -> int:
    """``--dataset NAME``: the cached converted store (made if needed), copied to ``--output``."""
    import shutil

    from .datasets import prepare

    if args.source is not None:
        raise ValueError(f"give either a source file ({args.source!r}) or --dataset, not both")
    t0 = time.perf_counter()
    store = prepare(args.dataset, layout=args.image_layout, base_url=args.mirror)
    shutil.copyfile(store, args.output)
    print(f"wrote dataset {args.dataset} to {args.output} (cached at {store}) in "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


def _build_inventory(args: argparse.Namespace, options: dict) -> tuple[int, list[str]]:
    import pandas as pd

    from .store import StoreWriter

    inv = pd.read_csv(args.source)
    candidates = ("path", "file", "filename", "filepath", "file_path")
    path_col = args.path_column or next((c for c in candidates if c in inv.columns), None)
    if path_col is None or path_col not in inv.columns:
        raise ValueError(f"no path column in {args.source!r} (columns: {list(inv.columns)}); "
                         "name it with --path-column")
    if args.label_column not in inv.columns:
        raise ValueError(f"no label column {args.label_column!r} in {args.source!r} (columns: "
                         f"{list(inv.columns)}); name it with --label-column")
    if len(inv) == 0:
        raise ValueError(f"{args.source!r} lists no files")
    root = args.root if args.root is not None else os.path.dirname(os.path.abspath(args.source))
    if not os.path.isdir(root):
        raise NotADirectoryError(f"--root {root!r} is not a folder")
    paths = inv[path_col].astype(str).to_numpy()
    labels, class_names = _encode_labels(inv[args.label_column])
    full = [p if os.path.isabs(p) else os.path.join(root, p) for p in paths]
    string_size = max([len(p.encode()) for p in paths] + [
        os.path.getsize(f) for f in full if f.lower().endswith(".txt") and os.path.exists(f)] + [1])
    from tqdm.auto import tqdm

    skipped: list[str] = []
    with StoreWriter(args.output, expected_rows=len(inv), string_size=string_size,
                     **options) as writer:
        for row, (rel, path, label) in enumerate(tqdm(list(zip(paths, full, labels)),
                                                      unit="files", desc="building", leave=False)):
            try:
                writer.append_sample({"data": decode_file(path), "label": label, "filename": rel})
            except Exception as exc:  # any failure of this row: stop, or skip and count
                reason = f"row {row} ({rel}): {' '.join(str(exc).split()) or type(exc).__name__}"
                if not args.skip_errors:
                    raise ValueError(f"{reason} (pass --skip-errors to skip bad rows)") from exc
                skipped.append(reason)
        if writer.rows == 0 and not skipped:
            raise ValueError("no rows were written")
        if writer.rows == 0:
            raise ValueError(f"every row failed; first: {skipped[0]}")
        if class_names is not None:
            writer.flush()
            writer.set_attrs(class_names=class_names)
        return writer.rows, skipped


def _encode_labels(column: Any) -> tuple[np.ndarray, list[str] | None]:
    values = column.to_numpy()
    if column.isna().any():
        raise ValueError(f"the label column has {int(column.isna().sum())} empty cells; "
                         "give every file a label")
    if np.issubdtype(values.dtype, np.integer):
        return values.astype(np.int64), None
    names = sorted({str(v) for v in values})
    lookup = {n: i for i, n in enumerate(names)}
    return np.array([lookup[str(v)] for v in values], dtype=np.int64), names


def decode_file(path: str) -> np.ndarray:
    """Read one file into an array by its extension: .npy, .png/.jpg/.jpeg, .wav, .txt.

    Uses :mod:`ladle.decoders`: images are uint8 (H, W, C); ``.wav`` gives float32 samples
    (frames, channels) in [-1, 1); ``.txt`` gives the text as one string value.

    Example:
        >>> decode_file("notes.doc")
        Traceback (most recent call last):
        ...
        ValueError: unsupported file type '.doc' (supported: .npy, .png, .jpg, .jpeg, .wav, .txt)
    """
    from .decoders import decoder_for

    ext = os.path.splitext(path)[1].lower()
    if ext not in (".npy", ".png", ".jpg", ".jpeg", ".wav", ".txt"):
        raise ValueError(f"unsupported file type {ext!r} (supported: .npy, .png, .jpg, .jpeg, "
                         ".wav, .txt)")
    if not os.path.exists(path):
        raise FileNotFoundError(f"file {path!r} does not exist")
    with open(path, "rb") as f:
        out = decoder_for(path)(f.read())
    if isinstance(out, dict):  # WAV: the samples, without the sample-rate extra
        out = out[""]
    return np.asarray(out)


# ----------------------------------------------------------------------------------------- info


def _filters(leaf: Any) -> str:
    f = leaf.filters
    if not f.complevel:
        text = "uncompressed"
    else:
        text = f"{f.complib} level {f.complevel}" + (" +shuffle" if f.shuffle else "")
    return text + (" +fletcher32" if f.fletcher32 else "")


def _cmd_info(args: argparse.Namespace) -> int:
    import tables

    from .sources.hdf5 import _decode
    from .sources.hdf5_open import hdf5_lock, open_file

    h5 = open_file(args.store)
    try:
        with hdf5_lock:
            lines = [f"{args.store} ({os.path.getsize(args.store) / 1e6:,.1f} MB)"]
            for node in h5.walk_nodes("/"):
                if isinstance(node, tables.Group):
                    attrs = node._v_attrs._f_list("user")
                    if attrs:
                        lines.append(f"{node._v_pathname}  group")
                        lines += _attr_lines(node, _decode)
                    continue
                lines += _leaf_lines(node, args.label_column, _decode)
        print("\n".join(lines))
    finally:
        h5.close()
    return 0


def _leaf_lines(leaf: Any, label_column: str, decode: Any) -> list[str]:
    import tables

    chunk = f"chunks of {leaf.chunkshape[0]} rows" if leaf.chunkshape else "contiguous"
    lines = [f"{leaf._v_pathname}  {type(leaf).__name__}  {leaf.nrows:,} rows  {chunk}  "
             f"{_filters(leaf)}"]
    if isinstance(leaf, tables.Table):
        for name in leaf.dtype.names:
            dt = leaf.dtype.fields[name][0]
            lines.append(f"    {name:<16} {str(dt.base):<10} {dt.shape}")
        labels = leaf.col(label_column) if label_column in leaf.dtype.names else None
    else:
        shape = tuple(int(s) for s in leaf.shape[1:])
        lines.append(f"    {leaf._v_name:<16} {str(leaf.atom.dtype.base):<10} {shape}")
        labels = leaf.read() if leaf._v_name == label_column and leaf.ndim == 1 else None
    lines += _attr_lines(leaf, decode)
    if labels is not None and labels.ndim == 1 and labels.size:
        names = decode(leaf._v_attrs["class_names"]) if "class_names" in leaf._v_attrs else None
        values, counts = np.unique(labels, return_counts=True)
        parts = []
        for v, c in zip(values.tolist()[:30], counts.tolist()[:30]):
            v = decode(v)
            known = names is not None and isinstance(v, int) and 0 <= v < len(names)
            name = names[v] if known else None
            parts.append(f"{v} ({name}): {c:,}" if name is not None else f"{v}: {c:,}")
        more = f", ... ({len(values)} classes)" if len(values) > 30 else ""
        lines.append(f"    label counts: {', '.join(parts)}{more}")
    return lines


def _attr_lines(node: Any, decode: Any) -> list[str]:
    out = []
    for key in node._v_attrs._f_list("user"):
        text = repr(decode(node._v_attrs[key]))
        out.append(f"    attr {key} = {text if len(text) < 200 else text[:197] + '...'}")
    return out


# -------------------------------------------------------------------------------------- iterate


def _cmd_iterate(args: argparse.Namespace) -> int:
    from .loader import Loader
    from .sources.hdf5 import HDF5Source

    node = args.node.split(",") if "," in args.node else args.node
    with HDF5Source(args.store, node=node, fields=args.fields, where=args.where) as src:
        loader = Loader(src, batch_size=args.batch_size, shuffle=args.shuffle, order=args.order,
                        seed=args.seed, epochs=args.epochs, workers=args.workers, progress=True)
        n = nbytes = 0
        t0 = time.perf_counter()
        with loader:
            for batch in loader:
                n += batch.size
                nbytes += sum(v.nbytes for v in batch.values()
                              if isinstance(v, np.ndarray) and v.dtype != object)
        dt = max(time.perf_counter() - t0, 1e-9)
    print(f"{n:,} samples ({loader.stats.batches:,} batches, {args.epochs} epoch(s)) in "
          f"{dt:.2f} s: {n / dt:,.0f} samples/s, {nbytes / dt / 1e6:,.1f} MB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
