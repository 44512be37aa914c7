"""Any sentence-transformers text model from a local folder (``st:/path``): a ``text`` space, no images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.retrieval.encoders.base import Embeddings, Encoder
from pathatlas.settings import Settings


class SentenceTransformerEncoder(Encoder):
    text_spaces = ("text",)
    image_spaces = ()

    def __init__(self, name: str, path: str, settings: Settings, device: str):
        from sentence_transformers import SentenceTransformer

        if not Path(path).is_dir():
            raise BadInputError(f"encoder {name!r}: no model folder at {path}")
        try:
            self.model = SentenceTransformer(path, device=device)
        except Exception as exc:
            raise BadInputError(f"cannot load encoder {name!r}: {str(exc).splitlines()[0]}") from exc
        self.name = name
        self.settings = settings
        self.dims = {"text": int(self.model.get_sentence_embedding_dimension())}

    def encode_text(self, texts: Sequence[str]) -> Embeddings:
        if not texts:
            return self.empty(self.text_spaces)
        vectors = self.model.encode(
            list(texts), batch_size=self.settings.batch_size * 2, normalize_embeddings=True, convert_to_numpy=True
        )
        return {"text": vectors.astype("float32")}

    def encode_image(self, images: Sequence[Image.Image]) -> Embeddings:
        if images:
            raise BadInputError(f"encoder {self.name!r} is text-only; it cannot encode images")
        return {}
