"""The embedded default: MiniLM for text, EfficientNet-Lite0 for images, both from pip wheels, plus
joint heads that map both into one ``joint`` space (see ``joint_heads.py``): the shipped
pathatlas-joint-v2, or the user's own from ``PATHATLAS_JOINT_HEADS``.

``visual`` is EfficientNet-Lite0 on the whole image (``towers.VISUAL``: squashed to 224 x 224, never
cropped, ImageNet mean/std, mean pooled, averaged with its flips; a panorama over 2:1 tile by tile), L2-normalised."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cached_property

import numpy as np
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.retrieval.encoders.base import Embeddings, Encoder, l2_normalise, run_batched
from pathatlas.retrieval.encoders.heads_config import heads_location, read_config, revision
from pathatlas.retrieval.encoders.inference_heads import InferenceHeads
from pathatlas.retrieval.encoders.towers import (
    EFFICIENTNET_DIM,
    HEADS_RECIPES,
    MINILM_DIM,
    MINILM_NAME,
    RECIPES,
    VISUAL,
    EfficientNetTower,
    MiniLMTower,
)
from pathatlas.settings import Settings

VISUAL_MODEL = "efficientnet-lite0"


class DefaultEncoder(Encoder):
    name = "default"

    def __init__(self, settings: Settings, heads: InferenceHeads | None = None, recipe: str = VISUAL):
        self.settings = settings
        self.recipe = recipe
        """The ``visual`` recipe: ``VISUAL``, or the earlier one an index was built with (``for_revisions``)."""
        self._loading = threading.Lock()
        self._earlier: dict[str, DefaultEncoder] = {}
        if heads is not None:
            self.__dict__["heads"] = heads
        else:
            self._heads_at = heads_location(settings.joint_heads)
        config = heads.config if heads is not None else read_config(*self._heads_at)
        if config is not None and config.image_recipe not in HEADS_RECIPES:
            raise BadInputError(
                f"joint heads were trained on {config.image_recipe!r} image features, but visual "
                f"features are {VISUAL!r}: retrain them with `pathatlas train-joint`"
            )
        self.dims = {"text": MINILM_DIM, "visual": EFFICIENTNET_DIM}
        self.text_spaces, self.image_spaces = ("text",), ("visual",)
        if config is not None:
            self.dims["joint"] = config.joint_dim
            self.text_spaces, self.image_spaces = ("text", "joint"), ("visual", "joint")

    def text_query_spaces(self) -> tuple[str, ...]:
        # Measured (BENCHMARKS.md): the joint space lowers text-to-page recall for text queries, and
        # its caption-to-image recall is weak, so text queries use MiniLM and BM25 only; image queries
        # use both image spaces, reaching figures, cases and pages.
        return ("text",)

    def revisions(self) -> dict[str, str]:
        revisions = {"text": MINILM_NAME, "visual": f"{VISUAL_MODEL} {self.recipe}"}
        if "heads" in self.__dict__:  # given or already loaded
            if self.heads is not None:
                revisions["joint"] = self.heads.revision
        elif read_config(*self._heads_at) is not None:  # read from the weights file: loads no torch
            revisions["joint"] = revision(*self._heads_at)
        return revisions

    def for_revisions(self, recorded: dict[str, str]) -> DefaultEncoder:
        """An index built with an earlier recipe the joint heads accept (``whole+flips``, which does not tile panoramas)
        is searched and extended with that recipe: its stored vectors and new ones stay alike. A new index gets
        ``VISUAL``."""
        recipe = recorded.get("visual", "").removeprefix(f"{VISUAL_MODEL} ")
        if recipe == self.recipe or recipe not in HEADS_RECIPES:
            return self
        with self._loading:  # one per recipe, as the registry keeps one encoder: its models load once
            if recipe not in self._earlier:
                self._earlier[recipe] = DefaultEncoder(self.settings, self.__dict__.get("heads"), recipe)
            return self._earlier[recipe]

    # Models load on first use: a text query needs MiniLM only, an image query no MiniLM; neither imports torch once
    # the model cache holds their ONNX exports (the joint heads always run in numpy).
    @cached_property
    def text_tower(self) -> MiniLMTower:
        with self._loading:
            return self.__dict__.get("text_tower") or MiniLMTower(self.settings.cache_dir, self.settings.device)

    @cached_property
    def image_tower(self) -> EfficientNetTower:
        with self._loading:
            return self.__dict__.get("image_tower") or EfficientNetTower(
                self.settings.device, RECIPES[self.recipe], self.settings.cache_dir
            )

    @cached_property
    def heads(self) -> InferenceHeads | None:
        """The joint heads (numpy), loaded when a joint vector is first needed; None without heads."""
        with self._loading:
            return self.__dict__.get("heads") or InferenceHeads.load(*self._heads_at)

    def encode_text(self, texts: Sequence[str]) -> Embeddings:
        return self._text(texts, self.text_spaces, queries=False)

    def encode_query(self, texts: Sequence[str]) -> Embeddings:
        return self._text(texts, self.text_query_spaces(), queries=True)

    def _text(self, texts: Sequence[str], spaces: Sequence[str], queries: bool) -> Embeddings:
        if not texts:
            return self.empty(spaces)
        vectors = self.text_tower(texts, batch_size=self.settings.batch_size * 2, queries=queries)
        out = {"text": vectors}
        if "joint" in spaces:
            out["joint"] = self.heads.embed_texts(vectors)
        return out

    def encode_image(self, images: Sequence[Image.Image]) -> Embeddings:
        if not images:
            return self.empty(self.image_spaces)
        return run_batched(images, self.settings.batch_size, self._image_batch, "images")

    def _image_batch(self, images: Sequence[Image.Image]) -> Embeddings:
        return self.embed_image_features(self.image_tower(images))

    def embed_image_features(self, features: np.ndarray) -> Embeddings:
        """Every image space from raw ``visual``-recipe features (what benchmarks compute once and cache)."""
        out = {"visual": l2_normalise(features)}
        if "joint" in self.image_spaces:
            out["joint"] = self.heads.embed_images(features)
        return out
