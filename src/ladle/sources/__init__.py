"""Sources: random access to samples (``len``, ``fields``, ``read(indices)``).

Example:
    >>> import numpy as np
    >>> from ladle.sources import ArraySource
    >>> len(ArraySource(x=np.zeros(3)))
    3
"""

from .array import ArraySource
from .base import Field, IndexSource, Source, contiguous_runs, gather_runs
from .compose import ConcatSource, MixSource, ZipSource, concat, mix, zip_sources
from .hdf5 import HDF5Source, MissingNodeError, StoreError
from .inventory import InventorySource, SampleError, SampleWarning, Split

__all__ = ["ArraySource", "ConcatSource", "Field", "HDF5Source", "IndexSource", "InventorySource", "MissingNodeError",
           "MixSource", "SampleError", "SampleWarning", "Source", "Split", "StoreError", "ZipSource",
           "concat", "contiguous_runs", "gather_runs", "mix", "zip_sources"]
