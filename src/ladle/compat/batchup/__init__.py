"""batchup on ladle: change ``from batchup import data_source`` to
``from ladle.compat.batchup import data_source``.

Modules: :mod:`.data_source` (``ArrayDataSource``, ``CompositeDataSource``, ...),
:mod:`.sampling` (``StandardSampler``, ``WeightedSampler``, ...), :mod:`.work_pool`
(``WorkerThreadPool``, ``WorkerProcessPool``), :mod:`.config` (data directory, verified downloads)
and ``datasets`` (MNIST and the others).

Example:
    >>> import numpy as np
    >>> from ladle.compat.batchup import data_source
    >>> ds = data_source.ArrayDataSource([np.arange(5)])
    >>> [b[0].size for b in ds.batch_iterator(batch_size=2, shuffle=np.random.RandomState(1))]
    [2, 2, 1]
"""

from . import config, data_source, sampling, work_pool

__all__ = ["config", "data_source", "sampling", "work_pool"]
