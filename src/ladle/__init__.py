"""ladle: mini-batches for neural-network training, exactly reproducible and resumable.

Example:
    >>> import numpy as np
    >>> import ladle
    >>> loader = ladle.Loader({"x": np.arange(8.0), "y": np.arange(8) % 2}, batch_size=4,
    ...                       shuffle=True, seed=0)
    >>> [batch.size for batch in loader]
    [4, 4]
"""

from . import batching, datasets, decoders, encoders, sampling, transforms
from .batch import Batch
from .loader import Loader, LoaderStats
from .parallel import BatchError, BatchTimeout
from .sampling import (BlockShuffle, ClassBalanced, Order, Repeat, Sequential, Shuffle, Subset,
                       Weighted)
from .sources import (ArraySource, ConcatSource, Field, MixSource, Source, ZipSource, concat, mix,
                      zip_sources)
from .sources.hdf5 import HDF5Source
from .sources.inventory import InventorySource, SampleError, SampleWarning
from .store import StoreWriter, write_store
from .workers import ProcessExecutor, WorkerDied

__version__ = "0.1.0"

__all__ = [
    "ArraySource",
    "Batch",
    "BatchError",
    "BatchTimeout",
    "BlockShuffle",
    "ClassBalanced",
    "ConcatSource",
    "Field",
    "HDF5Source",
    "InventorySource",
    "Loader",
    "LoaderStats",
    "MixSource",
    "Order",
    "ProcessExecutor",
    "Repeat",
    "SampleError",
    "SampleWarning",
    "Sequential",
    "Shuffle",
    "Source",
    "StoreWriter",
    "Subset",
    "Weighted",
    "WorkerDied",
    "ZipSource",
    "__version__",
    "batching",
    "concat",
    "datasets",
    "decoders",
    "encoders",
    "mix",
    "sampling",
    "transforms",
    "write_store",
    "zip_sources",
]
