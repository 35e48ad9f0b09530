"""Decoders: turn the bytes of a file or URL (and its inventory row) into a sample array.

A decoder is called per row as ``decoder(data, row)``, where ``data`` is the content as ``bytes``
(``input="bytes"``, the default, fetched for a whole batch at once, concurrently for URLs), an open
binary file (``input="file"``, for formats that seek or read only part of a file), or ``None``
(``input="row"``: the sample is computed from the row's columns alone); ``row`` is a read-only
mapping of the row's columns (``row.index`` is the row id). The decoded samples of a batch are then
collated: stacked into one array when the decoder declares its ``dtype`` and ``shape``, otherwise
kept as a 1-D object array (ragged samples). :class:`Pad` pads ragged samples to a common length.

A :class:`BatchDecoder` receives all rows of a batch at once (``decode_batch(items, rows)``), like
datagenerator's ``transform_batch``.

Any callable ``(data, row) -> array`` works as a decoder; wrap it in :class:`FunctionDecoder` to
declare its output (``dtype=``, ``shape=``) so that batches are stacked.

Example:
    >>> import io, numpy as np
    >>> from ladle.decoders import NpyDecoder
    >>> buf = io.BytesIO(); np.save(buf, np.arange(3)); data = buf.getvalue()
    >>> NpyDecoder()(data).tolist()
    [0, 1, 2]
"""

from .base import BatchDecoder, Decoder, FunctionDecoder, as_decoder
from .media import (BytesDecoder, ImageDecoder, JsonDecoder, NpyDecoder, TextDecoder, WavDecoder,
                    decoder_for)
from .pad import Pad

__all__ = ["BatchDecoder", "BytesDecoder", "Decoder", "FunctionDecoder", "ImageDecoder",
           "JsonDecoder", "NpyDecoder", "Pad", "TextDecoder", "WavDecoder", "as_decoder",
           "decoder_for"]
