"""One settings object for the whole project; every field can be set as an env var ``PATHATLAS_<NAME>``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".pathatlas"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PATHATLAS_", env_nested_delimiter="__")

    home: Path = Field(default_factory=_default_home, description="Caches and the default index live here.")
    index: Path | None = Field(None, description="Index folder; defaults to <home>/index.")
    encoder: str = Field("default", description="Encoder name: default, hf-hub:ORG/NAME, local-dir:PATH, st:PATH.")
    store: str = Field("faiss", description="Vector store for new indexes: faiss, qdrant.")
    qdrant_url: str | None = Field(None, description="Qdrant server or cluster URL; unset means embedded.")
    qdrant_api_key: str | None = None
    qdrant_collection: str | None = Field(None, description="Collection on a Qdrant server; defaults to 'pathatlas'.")
    device: str = Field("cpu", description="Torch device for encoders: cpu, cuda, auto.")

    batch_size: int = Field(32, ge=1)
    hnsw_threshold: int = Field(20_000, ge=1, description="FAISS spaces above this many vectors use HNSW.")
    hnsw_m: int = 32
    hnsw_ef_search: int = 128

    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    weight_bm25: float = 1.0
    weight_text: float = 1.0
    weight_visual: float = 1.0
    weight_joint: float = 1.0
    candidates: int = Field(100, ge=1, description="Hits each ranker contributes before fusion.")

    max_image_pixels: int = Field(60_000_000, description="Larger images are refused (decompression bombs).")
    max_pdf_pages: int = 5_000
    thumbnail_px: int = Field(384, description="Longest side of stored thumbnails.")
    page_render_dpi: int = Field(40, description="DPI of page thumbnails and of image-only pages.")
    min_figure_px: int = Field(64, description="Embedded images smaller than this (either side) are ignored.")

    @property
    def index_dir(self) -> Path:
        return self.index or self.home / "index"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    def fusion_weights(self) -> dict[str, float]:
        return {
            "bm25": self.weight_bm25,
            "text": self.weight_text,
            "visual": self.weight_visual,
            "joint": self.weight_joint,
        }


@lru_cache
def get_settings() -> Settings:
    return Settings()
