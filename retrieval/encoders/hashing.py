"""A whole ``Encoder`` in a few lines, to copy when writing your own: words hashed into 16 dimensions.

It needs no model, so it is instant and deterministic: the tests and ``pathatlas bench crash`` index with it where
the model is not what they check. Use it as any plug-in is used, by its dotted path::

    pathatlas index book.pdf --index /tmp/hashed --encoder py:pathatlas.retrieval.encoders.hashing.HashingEncoder
    pathatlas search "granuloma" --index /tmp/hashed     # the index remembers its encoder

Its vectors only say which words a text shares with another, never what it means: not for real search.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from PIL import Image

from pathatlas.retrieval.encoders.base import Embeddings, Encoder, l2_normalise
from pathatlas.settings import Settings

DIMS = 16


class HashingEncoder(Encoder):
    """Bag of hashed words: each word adds 1 to one of ``DIMS`` slots. Texts only: it fills the ``text`` space and no
    image space, so an index built with it has no image search."""

    name = "py:pathatlas.retrieval.encoders.hashing.HashingEncoder"
    dims = {"text": DIMS}
    text_spaces = ("text",)

    def __init__(self, settings: Settings):
        """A ``py:`` encoder is built as ``Class(settings)``: read what you need (a model's folder, the device) here."""
        self.settings = settings

    def encode_text(self, texts: Sequence[str]) -> Embeddings:
        rows = np.zeros((len(texts), DIMS), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            row[0] = 1e-3  # a text without words still has a direction
            for word in text.lower().split():
                row[hashlib.blake2b(word.encode(), digest_size=1).digest()[0] % DIMS] += 1.0
        return {"text": l2_normalise(rows)}

    def encode_image(self, images: Sequence[Image.Image]) -> Embeddings:
        return self.empty(self.image_spaces)
