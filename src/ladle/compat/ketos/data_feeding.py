"""ketos' ``data_feeding`` on ladle: change ``from ketos.data_handling.data_feeding import ...`` to
``from ladle.compat.ketos.data_feeding import ...``.

:class:`BatchGenerator` serves batches from an open PyTables table (the ketos database layout:
``id``, ``data``, ``label``, ... columns, optionally a separate annotation table joined on
``data_index``) or from in-memory arrays; :class:`JointBatchGen` joins the batches of several
generators; :class:`MultiModalBatchGen` zips aligned generators instance by instance.

The batches, and the use of the global ``np.random``, are ketos' (a script seeded with
``np.random.seed(...)`` gets the same batches), minus ketos' bugs: ``n_extend`` survives
refreshes; ``MultiModalBatchGen`` honours ``shuffle`` from the first epoch and keeps its
modalities aligned after refreshes; an empty selection raises a clear error instead of dividing by
zero; the annotation join is a sort, not a scan of the annotation table per instance.

Example:
    >>> import numpy as np
    >>> from ladle.compat.ketos.data_feeding import BatchGenerator
    >>> gen = BatchGenerator(batch_size=3, x=np.zeros((11, 12, 12)), y=np.zeros(11),
    ...                      return_batch_ids=True)
    >>> for epoch in range(2):
    ...     for _ in range(gen.n_batches):
    ...         ids, X, Y = next(gen)
    ...         print(epoch, ids, X.shape)
    0 [0, 1, 2] (3, 12, 12)
    0 [3, 4, 5] (3, 12, 12)
    0 [6, 7, 8, 9, 10] (5, 12, 12)
    1 [0, 1, 2] (3, 12, 12)
    1 [3, 4, 5] (3, 12, 12)
    1 [6, 7, 8, 9, 10] (5, 12, 12)
"""

from ._batch_generator import BATCH_SIZE_WARNING, BatchGenerator
from ._joint import JointBatchGen, MultiModalBatchGen

__all__ = ["BATCH_SIZE_WARNING", "BatchGenerator", "JointBatchGen", "MultiModalBatchGen"]
