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

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.settings import load_settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from pathatlas.retrieval.records import Hit
    from pathatlas.retrieval.search import Query

ImageInput = str | os.PathLike | bytes | Image.Image
PathInput = str | os.PathLike


def listed(paths: tuple) -> list[PathInput]:
    """``add``'s paths in one list, those in a list or tuple in their place; anything else is refused in one line, not
    left to fail as a TypeError inside the indexer."""
    flat = [path for given in paths for path in (given if isinstance(given, list | tuple) else [given])]
    if wrong := [path for path in flat if not isinstance(path, PathInput)]:
        raise BadInputError(f"add takes paths (text or os.PathLike) or lists of them, not {type(wrong[0]).__name__}")
    return flat


def check_folder(index: Path) -> None:
    """A file given as the index is refused when the ``Atlas`` is made, in a Python caller's words: ``Index.open``
    refuses it at first use as the CLI reads it ("give a folder with --index")."""
    path = index.expanduser()
    if path.exists() and not path.is_dir():
        raise BadInputError(f"{path} is a file, not an index folder: pass Atlas a folder, e.g. Atlas('my-index')")


class Atlas:
    """An index opened once: ``index`` is its folder (default: ``PATHATLAS_INDEX``, else ``<home>/index``);
    ``settings`` are the ``PATHATLAS_*`` settings by name (``Atlas("idx", figure_ocr=False)``). An index that does not
    exist yet is created by the first ``add``."""

    def __init__(self, index: str | os.PathLike | None = None, **settings: Any):
        if "settings" in settings:  # refused before load_settings, whose line would name it as an unknown setting
            raise BadInputError(
                "Atlas takes settings by name, e.g. Atlas(index, figure_ocr=False), not a Settings object"
            )
        values = {**settings, **({"index": index} if index is not None else {})}  # checked as settings are: one line
        self.settings = load_settings(**values)
        check_folder(self.settings.index_dir)
        self._index = None
        self._searcher = None
        self._agents: dict[str, Any] = {}
        """Answerer name to its agent, built on first use (its sentence-vector cache serves the next questions)."""

    @property
    def index(self):
        """The ``Index``, opened on first use: a folder holding none is refused in one line (``IndexMissingError``),
        as the CLI refuses it, unless ``add`` creates it."""
        from pathatlas.retrieval.index import Index

        if self._index is None:
            self._index = Index.open(self.settings.index_dir, self.settings)
        return self._index

    @property
    def searcher(self):
        from pathatlas.retrieval.search import Searcher

        if self._searcher is None:
            self._searcher = Searcher(self.index)
        return self._searcher

    def add(
        self, *paths: PathInput | Sequence[PathInput], force: bool = False, progress: bool = False
    ) -> list[dict[str, Any]]:
        """Index PDFs, case folders and images, given one by one, in lists, or both (``add("a.pdf", ["b/", "c/"])``;
        unchanged ones are skipped, ``force`` re-reads them): one report per source (``source``, ``status``,
        ``entries``, ``seconds``, ``problems``), as ``index --json`` prints."""
        from pathatlas.indexer.pipeline import Indexer
        from pathatlas.retrieval.index import Index

        if self._index is None:
            self._index = Index.open(self.settings.index_dir, self.settings, create=True, defer=True)
        report = Indexer(self._index, show_progress=progress).add(listed(paths), force=force)
        for note in report.notes:  # what the CLI prints on stderr (figure words not read: no tesseract)
            log.warning(note)
        return [dict(source.__dict__) for source in report.sources]

    def remove(self, source: str) -> int:
        """Remove a source by file name, id or path; the number of records removed."""
        return self.index.remove_source(source)

    def hits(
        self, text: str | None = None, *, image: ImageInput | None = None, k: int = 10, filters: dict | None = None
    ) -> list[Hit]:
        """The hits of a text and/or image query as records (``Hit``: scores, payload, citation)."""
        return self.searcher.find(self._query(text, image, k, filters)).hits

    def search(
        self, text: str | None = None, *, image: ImageInput | None = None, k: int = 10, filters: dict | None = None
    ) -> list[dict[str, Any]]:
        """The hits as ``search --json`` prints them (JSON-ready dicts: rank, relevance, why, snippet, citation,
        thumbnail ...), the snippets marked by the query's words and those read in its image, as the other doors mark
        them. ``filters``: kind, source, organ, diagnosis, case, section, chapter."""
        from pathatlas.ui.api.schemas import hit_records

        query = self._query(text, image, k, filters)
        found = self.searcher.find(query)
        return hit_records(found.hits, found.marked_words(query.text))

    def ask(
        self,
        question: str,
        options: Sequence[str] | None = None,
        *,
        image: ImageInput | None = None,
        filters: dict | None = None,
        answerer: str | None = None,
    ) -> dict[str, Any]:
        """Answer a (multiple-choice) question with cited evidence, as ``ask --json`` prints it: choice, answer,
        confidence, settled, rationale, per-option quotes and citations (``answer_record``), and the words no indexed
        text holds (``unknown_words``); a question pasted with its option lines and no ``options`` is split as every
        door splits it. ``answerer``: offline (default), llm, or ``py:package.module.Class``."""
        from pathatlas.agent.document import answer_record
        from pathatlas.agent.graph import Agent
        from pathatlas.agent.questions import Question, with_pasted_options
        from pathatlas.ui.words import asked_texts, unknown_words_json

        name = answerer or self.settings.answerer
        if name not in self._agents:
            settings = self.settings.model_copy(update={"answerer": name})
            self._agents[name] = Agent.from_settings(self.searcher, settings)
        if isinstance(options, list | tuple):  # anything else is for Question.validate to refuse
            options = [self._text(option) for option in options]
        text, options, from_question = with_pasted_options(self._text(question), [] if options is None else options)
        asked = Question(text, options, self._image(image), filters={} if filters is None else filters)
        record = answer_record(self._agents[name].ask(asked), self.index.store, from_question)
        return {**record, "unknown_words": unknown_words_json(asked_texts(text, options), self.index)}

    def _query(self, text: str | None, image: ImageInput | None, k: int, filters: dict | None) -> Query:
        """The checked query of ``hits`` and ``search``."""
        from pathatlas.retrieval.search import Query
        from pathatlas.ui.api.schemas import check_k

        query = Query(text=self._text(text), image=self._image(image), k=k, filters={} if filters is None else filters)
        query.validate()
        check_k(query.k)  # REST's limit, as every door's (after ``validate``, which refuses a k that is no number)
        return query

    def _text(self, text: object) -> object:
        """Text as the CLI takes it (valid Unicode, at most ``max_query_chars``); anything else for the query's or the
        question's own checks to refuse."""
        from pathatlas.ui.cli_common import user_text

        return user_text(text, self.settings) if isinstance(text, str) else text

    def _image(self, image: ImageInput | None) -> Image.Image | None:
        """A PIL image as given, or one read from a path or bytes with the same checks as an upload."""
        if image is None or isinstance(image, Image.Image):
            return image
        from pathatlas.retrieval.images import open_image

        return open_image(image if isinstance(image, bytes) else Path(image), self.settings.max_image_pixels)

    def close(self) -> None:
        """Close the index and what was built on it, so that the next use (in a new ``with`` block or not) opens it
        again as the first did, on every store, rather than search a closed one."""
        if self._index is not None:
            self._index.close()
        self._index, self._searcher, self._agents = None, None, {}

    def __enter__(self) -> Atlas:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
