"""PathAtlas from Python: one object for one index, to add material to, search and ask, with what the CLI prints as
plain values (the hit records of ``search --json``, the answer document of ``ask --json``, the index report).

    from pathatlas.ui.library import Atlas

    with Atlas("my-index") as atlas:
        atlas.add("book.pdf", "cases/")
        hits = atlas.search("koilocytes in cervical epithelium", filters={"kind": "figure"})
        answer = atlas.ask("Which cells show a perinuclear halo?", ["Koilocytes", "Goblet cells"])

Each call first catches up with what another ``Atlas``, process or server committed to the index since (one ``stat``
when nothing did), so a search never cites a source removed meanwhile. The objects underneath (``Index``,
``Searcher``, ``Agent``) stay public for what this does not cover.
"""

from __future__ import annotations

import functools
import inspect
import logging
import numbers
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.paths import expanded
from pathatlas.settings import load_settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from pathatlas.retrieval.records import Hit
    from pathatlas.retrieval.search import Query

ImageInput = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO | Image.Image | np.ndarray
PathInput = str | os.PathLike
IMAGE_TYPES = "a path, bytes, a binary file (open(..., 'rb'), io.BytesIO), a PIL image or a numpy array"
GIVEN = "the image given"
"""An image given as a value, named as ``open_image`` names bytes without a file name."""


def flattened_paths(paths: tuple) -> list[PathInput]:
    """``add``'s paths in one list, those in a list or tuple in their place; anything else is refused in one line, not
    left to fail as a TypeError inside the indexer."""
    flat = [path for given in paths for path in (given if isinstance(given, list | tuple) else [given])]
    if wrong := [path for path in flat if not isinstance(path, PathInput)]:
        raise BadInputError(f"add takes paths (text or os.PathLike) or lists of them, not {type(wrong[0]).__name__}")
    return flat


def image_of(image: object, max_pixels: int) -> Image.Image:
    """Any image a notebook holds, as REST reads an upload: a path (``~`` its user's home, as ``Atlas`` reads the
    index's and ``image_file_named`` a text's), bytes or a binary file through ``open_image``; a PIL image or an array
    refused over ``max_pixels`` in its words, then shown as a viewer shows it (``on_white``); anything else refused in
    one line naming what is taken, not a TypeError from deep inside. A huge one is reduced to what a search reads, as
    every door's query image (``open_image(query=True)``)."""
    from pathatlas.retrieval.images import on_white, open_image, reduced

    if isinstance(image, str | os.PathLike):
        return open_image(expanded(image), max_pixels, query=True)
    if isinstance(image, bytes | bytearray | memoryview):
        return open_image(bytes(image), max_pixels, query=True)
    if callable(getattr(image, "read", None)):
        return open_image(file_bytes(image), max_pixels, query=True)
    if isinstance(image, np.ndarray):
        return reduced(on_white(array_image(image, max_pixels)))
    if not isinstance(image, Image.Image):
        raise BadInputError(f"image must be {IMAGE_TYPES}, not {type(image).__name__}")
    within_limit(*image.size, max_pixels)
    return reduced(on_white(image))


def image_file_named(text: object) -> bool:
    """Whether a search's ``text`` names an image file on this machine ("slide.jpg", "~/slides/lung.png"): given as
    words without ``image=``, a micrograph's file name would be searched for its meaning, its hits all "related"."""
    from pathatlas.indexer.sources.cases import HEIC_SUFFIXES, IMAGE_SUFFIXES

    if not isinstance(text, str):
        return False
    path = expanded(text.strip())
    try:
        return path.suffix.lower() in (*IMAGE_SUFFIXES, *HEIC_SUFFIXES) and path.is_file()
    except (OSError, ValueError):  # a name too long for a path, or one holding a NUL: words, not a file
        return False


def file_bytes(file: Any) -> bytes:
    """What a file-like holds from where it stands; one opened as text is refused in one line (an image's bytes fail
    to decode as text before a ``str`` could be seen: a UnicodeDecodeError's traceback), and one read to its end
    (given a second time) says so rather than that the image is unreadable."""
    try:
        data = file.read()
    except UnicodeDecodeError:
        data = ""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BadInputError(f"the image file gives {type(data).__name__}, not bytes: open it with open(path, 'rb')")
    if not data and callable(getattr(file, "tell", None)) and file.tell() > 0:
        raise BadInputError("the image file gives no bytes: it was read to its end before (file.seek(0) first)")
    return bytes(data)


def array_image(array: np.ndarray, max_pixels: int) -> Image.Image:
    """A numpy image (HxW grey, HxWx3 RGB, HxWx4 RGBA, of uint8, as ``np.asarray(pil_image)`` gives it; OpenCV's BGR
    is taken as RGB) as a PIL image, checked against ``max_pixels`` before any copy; other shapes and types are
    refused saying what is taken (whether a float array's scale is 0-1 or 0-255 cannot be told)."""
    grey_or_colour = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))
    if array.dtype != np.uint8 or not grey_or_colour:
        shape = "x".join(map(str, array.shape))
        raise BadInputError(f"an image array must be HxW, HxWx3 or HxWx4 of uint8 (0-255), not {shape} {array.dtype}")
    within_limit(array.shape[1], array.shape[0], max_pixels)
    return Image.fromarray(array)


def within_limit(width: int, height: int, max_pixels: int) -> None:
    """An image given as a value, held to the limit ``open_image`` holds a file's or bytes' to, in the same words."""
    from pathatlas.retrieval.images import too_large

    if width * height > max_pixels:
        raise BadInputError(too_large(GIVEN, width, height, max_pixels))


def source_states(index: Any, settings: Any) -> dict[str, dict[str, Any]]:
    """Each source of ``index`` as ``pathatlas info --json`` lists it: its manifest entry, ``on_disk`` (as ``settings``
    read it) and ``older_reader`` (read by an older version of its reader than this one's: ``reader_versions``)."""
    from pathatlas.indexer.sources.fingerprints import on_disk, reader_versions
    from pathatlas.retrieval.upgrade import older_reader

    versions = reader_versions(settings)
    return {
        key: {
            **entry,
            "on_disk": on_disk(key, entry, settings),
            "older_reader": older_reader(entry, versions),
        }
        for key, entry in index.manifest.items()
    }


def check_folder(index: Path, caller: str = "Atlas") -> None:
    """A file given as the index is refused when the ``Atlas`` (or the ``caller``) is made, in a Python caller's words:
    ``Index.open`` refuses it at first use as the CLI reads it ("give a folder with --index")."""
    path = expanded(index)
    if path.exists() and not path.is_dir():
        raise BadInputError(f"{path} is a file, not an index folder: pass {caller} a folder, e.g. {caller}('my-index')")


def option_texts(options: object) -> object:
    """Options as a list: a list or tuple, or a column a notebook holds them in (a pandas ``Series``, a numpy array:
    anything with ``tolist``), whose truth ``with_pasted_options`` cannot test ("the truth value of an array is
    ambiguous"); anything else as given, for ``Question.validate`` to refuse in one line."""
    if callable(getattr(options, "tolist", None)):
        return options.tolist()
    return list(options) if isinstance(options, list | tuple) else options


def search_k(k: object) -> int:
    """``k`` refused in every door's words: a whole number (``whole_number``: not "3", 3.0 or True), within REST's limit
    (``check_k``), so that 0 is "between 1 and 100" as 101 is, not the query's own "at least 1"."""
    from pathatlas.retrieval.search import whole_number
    from pathatlas.ui.hits import check_k

    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        whole_number(k, "k", 1)  # raises, in its words
    return check_k(int(k))


def call_form(method: Callable) -> str:
    """How ``method`` is called, as ``help`` shows it without annotations or defaults: ``search(text, *, image, k,
    filters)``."""
    signature = inspect.signature(method)
    bare = [
        parameter.replace(annotation=inspect.Parameter.empty, default=inspect.Parameter.empty)
        for name, parameter in signature.parameters.items()
        if name != "self"
    ]
    return f"{method.__name__}{signature.replace(parameters=bare, return_annotation=inspect.Signature.empty)}"


def plain_arguments(method: Callable) -> Callable:
    """``method`` refusing a call that does not fit it (an unknown keyword such as ``n=3``, a ``k`` given by position)
    in one line, a ``BadInputError`` naming what it takes, rather than Python's TypeError, which an agent catching
    ``PathAtlasError`` misses. (The tools' ``refuse_unknown_arguments`` would bring FastAPI into the Python API.)"""
    signature, form = inspect.signature(method), call_form(method)

    @functools.wraps(method)
    def checked(self: Atlas, *args: Any, **kwargs: Any) -> Any:
        try:
            signature.bind(self, *args, **kwargs)
        except TypeError as exc:
            raise BadInputError(f"Atlas.{method.__name__}: {exc}; call it as {form}") from None
        return method(self, *args, **kwargs)

    return checked


class Atlas:
    """An index opened once: ``index`` is its folder (default: ``PATHATLAS_INDEX``, else ``<home>/index``);
    ``settings`` are the ``PATHATLAS_*`` settings by name (``Atlas("idx", figure_ocr=False)``). An index that does not
    exist yet is created by the first ``add``.

    ``add`` and ``remove`` sources, ``search`` (hit dicts, as ``search --json``) or ``hits`` (``Hit`` objects) by text,
    image or both, ``similar`` to a hit, ``ask`` a question, list ``sources``. Mistakes (a wrong type, ``k`` outside
    1-100, a keyword a method does not take, an unknown filter or source, no index there) raise one-line
    ``pathatlas.errors.PathAtlasError``s (``BadInputError``, ``UnknownSourceError``, ``IndexMissingError`` ...).
    Threads may share one ``Atlas`` (while another process writes the index, give each thread its own:
    ``_catch_up``); ``close()`` (or the end of a ``with`` block) lets the index go, and the next call opens it
    again."""

    def __init__(self, index: str | os.PathLike | None = None, **settings: Any):
        if "settings" in settings:  # refused before load_settings, whose line would name it as an unknown setting
            raise BadInputError(
                "Atlas takes settings by name, e.g. Atlas(index, figure_ocr=False), not a Settings object"
            )
        if index is not None and not isinstance(index, PathInput):  # pydantic would say "not a valid path for ..."
            raise BadInputError(
                f"bad setting PATHATLAS_INDEX={index!r}: index must be a path (str or pathlib.Path), not "
                f"{type(index).__name__}"
            )
        values = {**settings, **({"index": index} if index is not None else {})}  # checked as settings are: one line
        self.settings = load_settings(**values)
        check_folder(self.settings.index_dir)
        self._index = None
        self._searcher = None
        self._agents: dict[str, Any] = {}
        """Answerer name to its agent, built on first use (its sentence-vector cache serves the next questions)."""
        self._opening = threading.RLock()
        """Held while the index, searcher or an agent is made: threads whose first calls meet opened the index once
        each (8 threads on the book: 8 copies of its vectors, 32 s instead of 4) rather than share one."""

    @property
    def index(self):
        """The ``Index``, opened on first use: a folder holding none is refused in one line (``IndexMissingError``),
        as the CLI refuses it, unless ``add`` creates it."""
        from pathatlas.retrieval.index import Index

        self._catch_up()
        with self._opening:
            if self._index is None:
                self._index = Index.open(self.settings.index_dir, self.settings)
            return self._index

    @property
    def searcher(self):
        """The ``Searcher`` on ``index``, made on first use and shared by the calls (and threads) after."""
        from pathatlas.retrieval.search import Searcher

        self._catch_up()
        with self._opening:
            if self._searcher is None:
                self._searcher = Searcher(self.index)
            return self._searcher

    def _catch_up(self) -> None:
        """Every call first reads what another ``Atlas``, process or server committed to the open index since
        (``Index.refresh``: one ``stat``, as the REST service notices a commit, when there was none), so that no
        search cites a source removed meanwhile. The store is swapped in place: threads searching while another
        process writes the index should each make their own ``Atlas``."""
        if self._index is not None:
            self._index.refresh()

    @plain_arguments
    def add(
        self, *paths: PathInput | Sequence[PathInput], force: bool = False, progress: bool = False
    ) -> list[dict[str, Any]]:
        """Index PDFs, lecture notes, folders of them and case folders (images with ``cases.jsonl`` or ``labels.csv``; a
        lone image is no source: put it in a case folder), given one by one, in lists, or both (``add("a.pdf",
        ["b/", "c/"])``; unchanged ones are skipped, ``force`` re-reads them): one report per source (``source``,
        ``status``, ``entries``, ``seconds``, ``problems``), as ``index --json`` prints. A source that cannot be
        indexed (missing, damaged, not a PDF or case folder) raises nothing: its report's ``status`` is ``"failed"``
        and its ``problems`` say why, while the others are indexed, so check each ``status`` (``"skipped"``: a notes
        file found in a folder with nothing to index, left out as the folder's README is). ``add()`` without
        arguments indexes again every source the index holds, from where it was indexed, as ``pathatlas index``
        without paths does (refused here, a notebook would have to name an edited PDF again); an empty list (a glob that
        matched nothing) is still refused."""
        from pathatlas.indexer.pipeline import Indexer
        from pathatlas.retrieval.index import Index

        if not paths:  # an index must be there: ``index`` refuses a folder holding none, as the CLI does
            return self._reports(Indexer(self.index, show_progress=progress).add_held(force=force))
        paths = flattened_paths(paths)
        if not paths:
            raise BadInputError("add takes at least one path: a PDF, a folder of PDFs or a case folder")
        with self._opening:
            if self._index is None:
                self._index = Index.open(self.settings.index_dir, self.settings, create=True, defer=True)
        return self._reports(Indexer(self._index, show_progress=progress).add(paths, force=force))

    @staticmethod
    def _reports(report: Any) -> list[dict[str, Any]]:
        """An index run's reports as ``index --json`` prints them, its notes logged as the CLI prints them on stderr
        (figure words not read: no tesseract)."""
        for note in report.notes:
            log.warning(note)
        return [source.to_dict() for source in report.sources]

    @plain_arguments
    def remove(self, source: PathInput) -> int:
        """Remove a source by file name, id or path; the number of records removed."""
        if not isinstance(source, PathInput):
            raise BadInputError(
                f"remove takes a source's file name, id or path (text or os.PathLike), not {type(source).__name__}"
            )
        return self.index.remove_source(os.fspath(source))

    @plain_arguments
    def sources(self) -> dict[str, dict[str, Any]]:
        """The indexed sources by path, each as ``info --json`` lists it: its manifest entry (``id``, ``kind``,
        ``entries``, ``problems`` ...), whether it is on disk as indexed (``on_disk``: ok, changed, missing, unknown)
        and whether an older reader read it (``older_reader``: ``add`` it again)."""
        return source_states(self.index, self.settings)

    @plain_arguments
    def hits(
        self, text: str | None = None, *, image: ImageInput | None = None, k: int = 10, filters: dict | None = None
    ) -> list[Hit]:
        """The hits of a text and/or image query as records (``Hit``: scores, payload, citation; ``hit.to_dict()`` is
        JSON-ready); the arguments are ``search``'s."""
        query = self._query(text, image, k, filters)  # checked before a missing index is opened, as ``search``'s
        return self.searcher.find(query).hits

    @plain_arguments
    def search(
        self, text: str | None = None, *, image: ImageInput | None = None, k: int = 10, filters: dict | None = None
    ) -> list[dict[str, Any]]:
        """The hits as ``search --json`` prints them (JSON-ready dicts: rank, relevance, why, snippet, citation,
        thumbnail ...), the snippets marked by the query's words and those read in its image, as the other doors mark
        them. ``text``, ``image`` or both; ``image``: a path, bytes, a binary file, a PIL image or a numpy array
        (HxW, HxWx3 or HxWx4 of uint8). ``k``: 1 to 100, REST's limit; there is no offset: for a second page of
        ten, take ``search(text, k=20)[10:]`` (their ``rank`` says 11-20). ``filters``: kind, source,
        organ, diagnosis, case, section, chapter to a text or a list of texts (``{"kind": "figure"}``)."""
        from pathatlas.ui.hits import hit_records

        query = self._query(text, image, k, filters)
        found = self.searcher.find(query)
        return hit_records(found.hits, found.marked_words(query.text))

    @plain_arguments
    def similar(self, record: str | dict | Hit, k: int = 10, filters: dict | None = None) -> list[dict[str, Any]]:
        """More like a record, given by its id or as the hit ``search`` or ``hits`` gave, by the vectors the index
        holds for it, as REST's ``/search/similar`` finds them (``retrieval.similar``): hits as ``search`` gives them,
        the record itself and its case's other images left out."""
        from pathatlas.retrieval.similar import similar
        from pathatlas.ui.hits import hit_records

        record_id = record.get("id") if isinstance(record, dict) else getattr(record, "id", record)  # or a ``Hit``
        if not isinstance(record_id, str):
            raise BadInputError(f"similar takes a hit or its id (hit['id']), not {type(record).__name__}")
        k = search_k(k)
        return hit_records(similar(self.searcher, record_id, k, filters))

    @plain_arguments
    def unknown_words(self, text: str) -> list[dict[str, Any]]:
        """The words of a search's ``text`` that no indexed text holds, with the indexed words spelt closest (``field``,
        ``word``, ``closest``): what REST's search and ``ask``'s ``unknown_words`` give, kept out of ``search`` so its
        hits stay a list. A hit found for such a word was found by meaning alone: a typo, or a word the books lack."""
        from pathatlas.ui.words import unknown_words_json

        return unknown_words_json([("text", self._query(text, None, 1, None).text)], self.index)

    @plain_arguments
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
        door splits it. ``options``: a list or tuple of 2 to 10 texts (or a pandas Series, a numpy array), none for
        an open question; labels pasted with them in order ("A. Koilocytes", "B. Goblet cells") are dropped, as
        every door drops them (``with_pasted_options``); ``image`` as ``search`` takes it; ``filters`` as
        ``search``'s, for the evidence; ``answerer``: offline (default), llm, or ``py:package.module.Class``."""
        from pathatlas.agent.document import answer_record
        from pathatlas.agent.graph import Agent
        from pathatlas.agent.questions import Question, with_pasted_options
        from pathatlas.ui.words import asked_texts, unknown_words_json

        name = answerer or self.settings.answerer
        searcher = self.searcher  # caught up, under the agents made on it before
        with self._opening:
            if name not in self._agents:
                settings = self.settings.model_copy(update={"answerer": name})
                self._agents[name] = Agent.from_settings(searcher, settings)
        options = option_texts(options)
        if isinstance(options, list):  # anything else is for Question.validate to refuse
            options = [self._text(option) for option in options]
        text, options, from_question = with_pasted_options(self._text(question), [] if options is None else options)
        asked = Question(text, options, self._image(image), filters={} if filters is None else filters)
        record = answer_record(self._agents[name].ask(asked), self.index.store, from_question)
        return {**record, "unknown_words": unknown_words_json(asked_texts(text, options), self.index)}

    def _query(self, text: str | None, image: ImageInput | None, k: int, filters: dict | None) -> Query:
        """The checked query of ``hits`` and ``search``."""
        from pathatlas.retrieval.search import Query

        if image is None and image_file_named(text):
            raise BadInputError(
                f"{text.strip()!r} is an image file, not words to look for: give it as image= "
                f"(atlas.search(image={text.strip()!r}), with words beside it if you like)"
            )
        query = Query(
            text=self._text(text), image=self._image(image), k=search_k(k), filters={} if filters is None else filters
        )
        query.validate()
        return query

    def _text(self, text: object) -> object:
        """Text as the CLI takes it (valid Unicode, at most ``max_query_chars``); anything else for the query's or the
        question's own checks to refuse."""
        from pathatlas.ui.cli_common import user_text

        return user_text(text, self.settings, terminal=False) if isinstance(text, str) else text

    def _image(self, image: ImageInput | None) -> Image.Image | None:
        """The query image read as an upload is (``image_of``), within ``max_image_pixels``."""
        return None if image is None else image_of(image, self.settings.max_image_pixels)

    @plain_arguments
    def close(self) -> None:
        """Close the index and what was built on it, so that the next use (in a new ``with`` block or not) opens it
        again as the first did, on every store, rather than search a closed one."""
        with self._opening:
            if self._index is not None:
                self._index.close()
            self._index, self._searcher, self._agents = None, None, {}

    def __enter__(self) -> Atlas:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
