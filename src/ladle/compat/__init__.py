"""Compatibility layers: code written for another batching library moves to ladle by changing the
import. Each layer reproduces its original's public API (names, arguments, return types and the
documented behaviour, including global-RNG use where scripts depend on it) on top of ladle's core,
minus the original's bugs. Import the layer you need; none is imported here.

* ``ladle.compat.ketos`` — ketos ``data_feeding`` (``BatchGenerator``, ``JointBatchGen``,
  ``MultiModalBatchGen``) and ``database_interface.open_table``.
* ``ladle.compat.datagenerator`` — numblr datagenerator (``dataset``, ``encoders``, ``factories``).
* ``ladle.compat.batchup`` — batchup (``data_source``, ``sampling``, ``work_pool``, ``config``,
  ``datasets``).
* ``ladle.compat.batchflow`` — batchflow ``Batch``, ``DatasetIndex``, ``Dataset``.
* ``ladle.compat.keras`` — a Keras 3 ``Sequence`` base class: hand-written ``tf.keras.utils.Sequence``
  / ``keras.utils.Sequence`` generators run unchanged, or ladle-driven (seeded shuffles, resumable).

Example:
    >>> from ladle.compat.batchup import data_source  # was: from batchup import data_source
    >>> data_source.ArrayDataSource.__name__
    'ArrayDataSource'
"""
