"""CLIP-family models through open_clip (BiomedCLIP, PLIP, QuiltNet, CONCH, ...): one ``joint`` space.

Names are open_clip's own: ``hf-hub:ORG/REPO`` or ``local-dir:/path/with/open_clip_config.json``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.plugins import require
from pathatlas.retrieval.encoders.base import (
    Embeddings,
    Encoder,
    in_fixed_chunks,
    l2_normalise,
    map_threads,
    run_batched,
)
from pathatlas.settings import Settings


class OpenClipEncoder(Encoder):
    text_spaces = ("joint",)
    image_spaces = ("joint",)

    def __init__(self, name: str, settings: Settings, device: str):
        open_clip = require("open_clip", "clip")
        self.name = name
        self.settings = settings
        self.device = device
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                name, device=device, cache_dir=str(settings.cache_dir / "open_clip")
            )
            self.tokenizer = open_clip.get_tokenizer(name, cache_dir=str(settings.cache_dir / "open_clip"))
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BadInputError(f"cannot load encoder {name!r}: {reason}") from exc
        self.model = model.eval()
        self.preprocess = preprocess
        with torch.inference_mode():
            probe = self.model.encode_text(self.tokenizer(["probe"]).to(device))
        self.dims = {"joint": int(probe.shape[-1])}

    @torch.inference_mode()
    def _text_batch(self, texts: Sequence[str]) -> Embeddings:
        tokens = self.tokenizer(list(texts)).to(self.device)
        return {"joint": l2_normalise(self.model.encode_text(tokens).float().cpu().numpy())}

    @torch.inference_mode()
    def _image_batch(self, images: Sequence[Image.Image]) -> Embeddings:
        batch = torch.stack(map_threads(lambda image: self.preprocess(image.convert("RGB")), images)).to(self.device)
        run, size = self.model.encode_image, self.settings.batch_size
        features = in_fixed_chunks(run, batch, size) if batch.is_cuda else run(batch)
        return {"joint": l2_normalise(features.float().cpu().numpy())}

    def encode_text(self, texts: Sequence[str]) -> Embeddings:
        if not texts:
            return self.empty(self.text_spaces)
        return run_batched(texts, self.settings.batch_size * 2, self._text_batch, "texts")

    def encode_image(self, images: Sequence[Image.Image]) -> Embeddings:
        if not images:
            return self.empty(self.image_spaces)
        return run_batched(images, self.settings.batch_size, self._image_batch, "images")
