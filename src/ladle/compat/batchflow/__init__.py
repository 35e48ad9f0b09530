"""batchflow on ladle: ``Batch`` (components, ``apply_parallel``, ``merge``, ``load``/``dump``),
``DatasetIndex`` and ``Dataset``. Change ``from batchflow import Batch, Dataset, DatasetIndex`` to
``from ladle.compat.batchflow import Batch, Dataset, DatasetIndex``.

Example:
    >>> import numpy as np
    >>> from ladle.compat.batchflow import Batch, Dataset
    >>> class MyBatch(Batch):
    ...     components = ("images", "labels")
    >>> ds = Dataset(4, batch_class=MyBatch, preloaded={"images": np.zeros((4, 2)),
    ...                                                  "labels": np.arange(4)})
    >>> ds.next_batch(3, n_epochs=1).labels.tolist()
    [0, 1, 2]
"""

from .batch import Batch, action
from .dataset import Dataset
from .index import DatasetIndex

__all__ = ["Batch", "Dataset", "DatasetIndex", "action"]
