"""PathAtlas from Python: one object for one index, to add material to, search and ask, with what the CLI prints as
plain values (the hit records of ``search --json``, the answer document of ``ask --json``, the index report).

    from pathatlas.ui.library import Atlas

    with Atlas("my-index") as atlas:
        atlas.add("book.pdf", "cases/")
        hits = atlas.search("koilocytes in cervical epithelium", filters={"kind": "figure"})
        answer = atlas.ask("Which cells show a perinuclear halo?", ["Koilocytes", "Goblet cells"])

The objects underneath (``Index``, ``Searcher``, ``Agent``) stay public for what this does not cover.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from pathatlas.settings import load_settings

if TYPE_CHECKING:
    from pathatlas.retrieval.records import Hit

ImageInput = str | os.PathLike | Image.Image


class Atlas:
    """An index opened once: ``index`` is its folder (default: ``PATHATLAS_INDEX``, else ``<home>/index``);
    ``settings`` are the ``PATHATLAS_*`` settings by name (``Atlas("idx", figure_ocr=False)``). An index that does not
    exist yet is created by the first ``add``."""

    def __init__(self, index: str | os.PathLike | None = None, **settings: Any):
        from pathatlas.retrieval.index import Index

        values = {**settings, **({"index": Path(index)} if index is not None else {})}
        self.settings = load_settings(**values)
        self.index = Index.open(self.settings.index_dir, self.settings, create=True, defer=True)
        self._searcher = None

    @property
    def searcher(self):
        from pathatlas.retrieval.search import Searcher

        if self._searcher is None:
            self._searcher = Searcher(self.index)
        return self._searcher

    def add(self, *paths: str | os.PathLike, force: bool = False, progress: bool = False) -> list[dict[str, Any]]:
        """Index PDFs, case folders and images (unchanged ones are skipped; ``force`` re-reads them): one report
        per source (``source``, ``status``, ``entries``, ``seconds``, ``problems``), as ``index --json`` prints."""
        from pathatlas.indexer.pipeline import Indexer

        report = Indexer(self.index, show_progress=progress).add([Path(p) for p in paths], force=force)
        return [dict(source.__dict__) for source in report.sources]

    def remove(self, source: str) -> int:
        """Remove a source by file name, id or path; the number of records removed."""
        return self.index.remove_source(source)

    def hits(
        self, text: str | None = None, *, image: ImageInput | None = None, k: int = 10, filters: dict | None = None
    ) -> list[Hit]:
        """The hits of a text and/or image query as records (``Hit``: scores, payload, citation)."""
        from pathatlas.retrieval.search import Query

        query = Query(text=text, image=self._image(image), k=k, filters=dict(filters or {}))
        query.validate()
        return self.searcher.find(query).hits

    def search(
        self, text: str | None = None, *, image: ImageInput | None = None, k: int = 10, filters: dict | None = None
    ) -> list[dict[str, Any]]:
        """The hits as ``search --json`` prints them (JSON-ready dicts: rank, relevance, why, snippet, citation,
        thumbnail ...). ``filters``: kind, source, organ, diagnosis, case, section, chapter."""
        from pathatlas.ui.api.schemas import hit_records

        return hit_records(self.hits(text, image=image, k=k, filters=filters))

    def ask(
        self,
        question: str,
        options: Sequence[str] = (),
        *,
        image: ImageInput | None = None,
        filters: dict | None = None,
        answerer: str | None = None,
    ) -> dict[str, Any]:
        """Answer a (multiple-choice) question with cited evidence, as ``ask --json`` prints it: choice, answer,
        confidence, settled, rationale, per-option quotes and citations. ``answerer``: offline (default), llm, or
        ``py:package.module.Class``."""
        from pathatlas.agent.graph import Agent
        from pathatlas.agent.questions import Question

        settings = self.settings if answerer is None else self.settings.model_copy(update={"answerer": answerer})
        asked = Question(question, list(options), self._image(image), filters=dict(filters or {}))
        return Agent.from_settings(self.searcher, settings).ask(asked).to_dict()

    def _image(self, image: ImageInput | None) -> Image.Image | None:
        """A PIL image as given, or one read from a path with the same checks as an upload."""
        if image is None or isinstance(image, Image.Image):
            return image
        from pathatlas.retrieval.images import open_image

        return open_image(Path(image), self.settings.max_image_pixels)

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> Atlas:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
