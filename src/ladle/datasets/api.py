"""Ready-to-train standard datasets: download once, convert to an HDF5 store, read it the fast way.

``load("mnist", n_val=10000)`` downloads the published files into the cache directory (verifying
their checksums), converts them once to an HDF5 store (uint8 images, labels, class names as
attributes) and returns a :class:`Dataset` whose ``train``/``val``/``test`` are sources with the
images scaled lazily, per batch, from uint8 to float32 in ``scale``.

Example:
    >>> ds = digits(n_val=300)
    >>> len(ds.train), len(ds.val), len(ds.test), ds.train.fields["image"].shape
    (1200, 300, 297, (1, 8, 8))
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .._checks import check_choice, check_int
from ..sources.base import Field, Source
from .config import dataset_dir
from .download import DownloadError, download_and_verify
from .registry import DATASETS, DatasetSpec

__all__ = ["Dataset", "ScaledSplit", "cifar10", "cifar100", "digits", "fashion_mnist", "load",
           "mnist", "prepare", "stl10", "svhn", "usps"]

LAYOUTS = ("NCHW", "NHWC")


class ScaledSplit(Source):
    """Rows ``[start, stop)`` of a source, with the uint8 ``image`` field scaled lazily to float32.

    ``scale=(low, high)`` maps 0 → low and 255 → high per batch as it is read; ``scale=None`` keeps
    uint8. Pickles as its parts (the store source pickles as a spec).

    Example:
        >>> from ladle import ArraySource
        >>> src = ScaledSplit(ArraySource(image=np.array([[0], [255]], np.uint8)), scale=(-1, 1))
        >>> src.read(np.array([1, 0]))["image"].ravel().tolist()
        [1.0, -1.0]
    """

    def __init__(self, source: Source, start: int = 0, stop: int | None = None,
                 field: str = "image", scale: tuple[float, float] | None = (0.0, 1.0)):
        self.source = source
        n = len(source)
        self.start = check_int("start", start, 0)
        self.stop = n if stop is None else check_int("stop", stop, self.start)
        if self.stop > n:
            raise ValueError(f"stop={self.stop} is past the {n} rows of the source")
        self.field = field
        if scale is not None:
            low, high = map(float, scale)
            if not high > low:
                raise ValueError(f"scale={scale!r} must be (low, high) with high > low")
            scale = (low, high)
        self.scale = scale
        self.block_size = getattr(source, "block_size", None)

    def __len__(self) -> int:
        return self.stop - self.start

    @property
    def fields(self) -> Mapping[str, Field]:
        fields = dict(self.source.fields)
        if self.scale is not None and self.field in fields:
            fields[self.field] = Field(np.dtype(np.float32), fields[self.field].shape)
        return fields

    def read(self, indices: np.ndarray) -> dict[str, Any]:
        data = dict(self.source.read(np.asarray(indices, dtype=np.int64) + self.start))
        if self.scale is not None:
            low, high = self.scale
            x = data[self.field].astype(np.float32)
            x *= np.float32((high - low) / 255.0)
            if low:
                x += np.float32(low)
            data[self.field] = x
        return data

    def close(self) -> None:
        self.source.close()


@dataclass
class Dataset:
    """A converted dataset: its store, class names, splits (sources) and other store attributes.

    Example:
        >>> ds = digits()
        >>> ds.class_names[:3], ds.loader("train", batch_size=100).batch_size
        (['0', '1', '2'], 100)
    """

    name: str
    path: Path
    class_names: list[str]
    splits: dict[str, Source] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def train(self) -> Source:
        return self.splits["train"]

    @property
    def val(self) -> Source | None:
        return self.splits.get("val")

    @property
    def test(self) -> Source | None:
        return self.splits.get("test")

    def loader(self, split: str = "train", batch_size: int = 64, **kwargs: Any):
        """A :class:`~ladle.Loader` over one split (``shuffle`` defaults to True for ``"train"``).

        Example:
            >>> len(digits().loader("test", batch_size=1000))
            1
        """
        from ..loader import Loader

        if split not in self.splits:
            raise KeyError(f"split={split!r} is not one of {sorted(self.splits)}")
        kwargs.setdefault("shuffle", split == "train")
        return Loader(self.splits[split], batch_size, **kwargs)


def _store_name(spec: DatasetSpec, layout: str, options: dict) -> str:
    extra = "".join(f"-{k}-{v}" for k, v in sorted(options.items()) if v not in (None, False))
    return f"{spec.name}{extra}-{layout.lower()}.h5"


def _fetch(spec: DatasetSpec, raw: Path, base_url: str | None, include_optional: bool,
           progress: bool) -> dict[str, Path]:
    mirrors = (base_url,) if base_url else spec.mirrors
    paths = {}
    for f in spec.files:
        if f.optional and not include_optional:
            continue
        errors = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + f.name
            try:
                paths[f.name] = download_and_verify(url, raw / f.name, sha256=f.sha256, md5=f.md5,
                                                    progress=progress)
                break
            except DownloadError as exc:
                errors.append(str(exc))
        else:
            raise DownloadError(f"{spec.name}: {f.name} could not be downloaded from any mirror:\n"
                                + "\n".join(errors))
    return paths


def prepare(name: str, root: str | os.PathLike | None = None, layout: str = "NCHW",
            base_url: str | None = None, progress: bool = True, **options: Any) -> Path:
    """Download (if needed), verify and convert a dataset; return its HDF5 store's path.

    The store has one table per split (``/train``, ``/test``, ...) with ``image`` (uint8) and
    ``label`` (int64) columns and the class names as the ``class_names`` attribute. It is written
    to a temporary name and renamed when complete, so an interrupted conversion leaves no store.

    Args:
        name: a key of :data:`~ladle.datasets.DATASETS` (``"mnist"``, ``"cifar10"``...).
        root: the dataset's directory (default: ``data_dir() / name``).
        layout: ``"NCHW"`` or ``"NHWC"`` for the stored images.
        base_url: download from this URL instead of the official mirrors (a local mirror).
        progress: progress bars for downloads and conversion.
        **options: dataset options: ``labels="coarse"`` (CIFAR-100), ``unlabeled=True`` (STL-10),
            ``extra=True`` (SVHN).

    Example:
        >>> prepare  # doctest: +ELLIPSIS
        <function prepare at ...>
    """
    if name not in DATASETS:
        raise ValueError(f"name={name!r} is not one of {sorted(DATASETS)}")
    spec = DATASETS[name]
    layout = check_choice("layout", layout.upper(), LAYOUTS)
    allowed = {"cifar100": {"labels"}, "stl10": {"unlabeled"}, "svhn": {"extra"}}.get(name, set())
    unknown = set(options) - allowed
    if unknown:
        raise TypeError(f"{name} has no option {sorted(unknown)}; its options: {sorted(allowed)}")
    opts = {**spec.options, **options}
    directory = Path(root) if root is not None else dataset_dir(name)
    store = directory / _store_name(spec, layout, options)
    if store.exists():
        return store
    files = _fetch(spec, directory / "raw", base_url, bool(opts.get("extra")), progress)
    splits, attrs = spec.reader(files, opts)
    _write_splits(store, splits, {**attrs, "layout": layout}, layout, progress)
    return store


def _write_splits(store: Path, splits: dict[str, dict[str, np.ndarray]], attrs: dict, layout: str,
                  progress: bool) -> None:
    """One table per split, written under a temporary name and renamed when complete."""
    from ..store import write_store

    tmp = store.with_name(store.name + ".tmp")
    mode = "w"
    for split, columns in splits.items():
        if layout == "NHWC":
            columns = {**columns, "image": np.ascontiguousarray(columns["image"].transpose(0, 2, 3, 1))}
        write_store(tmp, columns, node=f"/{split}", mode=mode, attrs=attrs, progress=progress)
        mode = "a"
    tmp.replace(store)


def load(name: str, n_val: int = 0, layout: str = "NCHW",
         scale: tuple[float, float] | None = (0.0, 1.0), root: str | os.PathLike | None = None,
         base_url: str | None = None, progress: bool = True, **options: Any) -> Dataset:
    """A ready :class:`Dataset`: the last ``n_val`` training samples form the validation split.

    Example:
        >>> load  # doctest: +ELLIPSIS
        <function load at ...>
    """
    path = prepare(name, root, layout, base_url, progress, **options)
    return _open(name, path, n_val, scale)


def _open(name: str, path: Path, n_val: int, scale: tuple[float, float] | None) -> Dataset:
    import tables

    from ..sources.hdf5 import HDF5Source

    with tables.open_file(path) as h5:
        nodes = [n._v_name for n in h5.root._f_iter_nodes() if isinstance(n, tables.Table)]
        first = h5.get_node("/" + nodes[0])
        attrs = {k: _attr(first._v_attrs[k]) for k in first._v_attrs._f_list("user")}
        columns = [c for c in first.colnames if c != "id"]
    splits: dict[str, Source] = {}
    for node in nodes:
        src = HDF5Source(path, f"/{node}", fields=columns)
        if node == "train" and n_val:
            n = len(src)
            n_val = check_int("n_val", n_val, 0)
            if n_val >= n:
                raise ValueError(f"n_val={n_val} leaves no training samples (train has {n})")
            splits["train"] = ScaledSplit(src, 0, n - n_val, scale=scale)
            splits["val"] = ScaledSplit(src, n - n_val, n, scale=scale)
        else:
            splits[node] = ScaledSplit(src, scale=scale)
    return Dataset(name, path, attrs.pop("class_names"), splits, attrs)


def _attr(value: Any) -> Any:
    """Attributes as Python values: byte strings decoded, arrays of them as lists of str."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [v.decode() if isinstance(v, bytes) else v for v in value.tolist()]
    return value


def _named(name: str):
    def loader(n_val: int = 0, **kwargs: Any) -> Dataset:
        return load(name, n_val, **kwargs)

    loader.__name__ = loader.__qualname__ = name
    loader.__doc__ = (f"The {name} dataset (see :func:`load` for the arguments).\n\n"
                      f"    Example:\n        >>> callable({name})\n        True\n")
    return loader


mnist = _named("mnist")
fashion_mnist = _named("fashion_mnist")
cifar10 = _named("cifar10")
cifar100 = _named("cifar100")
svhn = _named("svhn")
stl10 = _named("stl10")
usps = _named("usps")


def digits(n_val: int = 0, scale: tuple[float, float] | None = (0.0, 1.0),
           root: str | os.PathLike | None = None, layout: str = "NCHW") -> Dataset:
    """scikit-learn's bundled 8×8 digits (1,797 images; works offline) as a dataset store.

    The images (0..16 in scikit-learn) are stored as uint8 0..255; the first 1,500 are ``train``
    (the last ``n_val`` of them ``val``), the rest ``test``.

    Example:
        >>> digits().test.read(np.array([0]))["image"].dtype
        dtype('float32')
    """
    from sklearn.datasets import load_digits

    layout = check_choice("layout", layout.upper(), LAYOUTS)
    directory = Path(root) if root is not None else dataset_dir("digits")
    path = directory / f"digits-{layout.lower()}.h5"
    if not path.exists():
        d = load_digits()
        images = np.rint(d.images * (255 / 16)).astype(np.uint8)[:, None]
        labels = d.target.astype(np.int64)
        splits = {"train": {"image": images[:1500], "label": labels[:1500]},
                  "test": {"image": images[1500:], "label": labels[1500:]}}
        _write_splits(path, splits, {"class_names": [str(i) for i in range(10)],
                                     "layout": layout}, layout, progress=False)
    return _open("digits", path, n_val, scale)
