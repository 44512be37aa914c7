"""The embedded default: MiniLM for text, EfficientNet-Lite0 for images, both from pip wheels."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from retrieval.encoders.base import Embeddings, Encoder, l2_normalise, run_batched
from retrieval.encoders.towers import EFFICIENTNET_DIM, MINILM_DIM, EfficientNetTower, MiniLMTower
from retrieval.settings import Settings


class DefaultEncoder(Encoder):
    name = "default"
    text_spaces = ("text",)
    image_spaces = ("visual",)

    def __init__(self, settings: Settings):
        self.settings = settings
        self.dims = {"text": MINILM_DIM, "visual": EFFICIENTNET_DIM}
        self.text_tower = MiniLMTower(settings.cache_dir, settings.device)
        self.image_tower = EfficientNetTower(settings.device)

    def encode_text(self, texts: Sequence[str]) -> Embeddings:
        if not texts:
            return self.empty(self.text_spaces)
        return {"text": self.text_tower(texts, batch_size=self.settings.batch_size * 2)}

    def encode_image(self, images: Sequence[Image.Image]) -> Embeddings:
        if not images:
            return self.empty(self.image_spaces)
        return run_batched(
            images,
            self.settings.batch_size,
            lambda batch: {"visual": l2_normalise(self.image_tower(batch))},
            "images",
        )
