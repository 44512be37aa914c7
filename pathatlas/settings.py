"""One settings object for the whole project; every field can be set as an env var ``PATHATLAS_<NAME>``."""

from __future__ import annotations

import difflib
import errno
import json
import logging
import os
import re
import stat
import sys
import tempfile
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit, urlunsplit

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pathatlas import tesseract

DEVICE = re.compile(r"auto|cpu|mps|(cuda|xpu)(:\d+)?")
"""Devices an encoder may be put on (torch's names; ``auto``: cuda where available, else cpu)."""


PLUGIN = "py:package.module.Class"
"""How every registry names a plug-in class (``plugins.import_plugin`` imports it)."""
PLUGIN_NAME = re.compile(r"py:[^\W\d]\w*(\.[^\W\d]\w*)+")
"""A plug-in's name as ``import_plugin`` reads it, a module's dotted path and a class, checked importing nothing."""

NAMES = {
    "encoder": ("default", "hf-hub:ORG/NAME", "local-dir:PATH", "st:PATH", PLUGIN),
    "store": ("faiss", "qdrant", PLUGIN),
    "answerer": ("offline", "llm", PLUGIN),
    "llm_provider": ("openai", "ollama"),
}
"""What each setting that names a class takes: built-in names, an encoder's forms, plug-ins. Here, light to import, so
that a name is checked at start without importing the module that builds it (a store's libraries, LangChain), and
those modules build these names: ``retrieval.stores.STORES``, ``agent.answerers.ANSWERERS``, ``LLMAnswerer.create``."""
CHECKED_NAMES = ("store", "answerer", "llm_provider")
"""Settings whose names are checked at start; an encoder's forms name any model (``hf-hub:ORG/NAME``), tried on load."""

HTTP = ("http://", "https://")
ORIGIN = re.compile(r"\*|[a-z][a-z0-9+.-]*://[^/\s]+")
"""A browser's ``Origin``, as CORS matches it whole: scheme, host and port, no path (``*``: any)."""


def list_from_text(value: object) -> object:
    """A list setting given as text: a JSON list, or items separated by commas (``PATHATLAS_SOURCES=py:a.B``,
    ``PATHATLAS_LANGUAGES=de,pt``), for lists whose items hold no comma; anything else is left to the field's type."""
    if not isinstance(value, str):
        return value
    if not value.lstrip().startswith("["):
        return [item.strip() for item in value.split(",") if item.strip()]
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f'not a JSON list ({exc}); write \'["a", "b"]\' or a,b') from None


CommaList = Annotated[list[str], NoDecode, BeforeValidator(list_from_text)]
"""A list setting read by ``list_from_text``: pydantic-settings would take only JSON from the environment."""


def http_url(value: str | None, otherwise: str = "") -> str | None:
    """``value`` if it is an http(s) URL, or unset: 'localhost:9' would otherwise fail only at its first request, naming
    neither the scheme nor the setting. ``otherwise`` says what else the setting takes."""
    if not value or value.startswith(HTTP):
        return value
    bare = value.partition("://")[2] or value
    raise ValueError(f"no http:// or https://; write '{without_credentials(f'http://{bare}')}'{otherwise}")


def _default_home() -> Path:
    return Path.home() / ".pathatlas"


Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]
"""A fusion weight: 0 turns its ranker off; a negative or NaN weight would reorder every result unnoticed. Image
queries fuse by these weights (RRF); text queries' pages are ranked by BM25 and dense scores (``ranker_file``), where
only 0 counts: ``weight_bm25=0`` ranks by meaning alone, ``weight_text=0`` by words alone (and ``weight_joint=0``
where an encoder's text queries search the joint space too; the default's do not)."""


ENGLISH_STEMMERS = frozenset({"english", "porter"})
"""Snowball's English stemmers: English is always read (BM25's own stems), so naming it as a language adds nothing."""


ISO_CODES = {
    "arabic": "ar", "armenian": "hy", "basque": "eu", "catalan": "ca", "czech": "cs", "danish": "da", "dutch": "nl",
    "esperanto": "eo", "estonian": "et", "finnish": "fi", "french": "fr", "german": "de", "greek": "el", "hindi": "hi",
    "hungarian": "hu", "indonesian": "id", "irish": "ga", "italian": "it", "lithuanian": "lt", "nepali": "ne",
    "norwegian": "no", "persian": "fa", "polish": "pl", "portuguese": "pt", "romanian": "ro", "russian": "ru",
    "serbian": "sr", "sesotho": "st", "spanish": "es", "swedish": "sv", "tamil": "ta", "turkish": "tr", "yiddish": "yi",
}  # fmt: skip
"""Snowball's languages (PyStemmer's names) but English by their ISO 639-1 codes, the one table of them: BM25 writes a
language's stems after its code (``terms.CODES``; English stems are its own, after none), and a setting may name it
by its code (``ISO_LANGUAGES``)."""
ISO_LANGUAGES = {code: name for name, code in ISO_CODES.items()} | {
    "en": "english",
    "nb": "norwegian",
    "nn": "norwegian",
}
"""``ISO_CODES`` the other way, a code to its language: ``PATHATLAS_LANGUAGES=pt,de`` is Portuguese and German. Also
"en", English (always read, so naming it adds nothing), and Norwegian's two written standards, Bokmål (nb) and Nynorsk
(nn), which its one stemmer reads."""


def snowball_languages(names: str | Iterable[str]) -> list[str]:
    """Names Snowball knows, lower case, sorted, once each, English (always read) left out: the list an index records,
    so the same languages in another order or case are the same index. Each may be given by its ISO 639-1 code
    ("pt", or a locale's "pt-BR"); a text is a comma-separated list (an environment variable that is not JSON). An
    unknown name is a ValueError naming the known ones (the settings' and a Python caller's one line)."""
    import Stemmer

    if isinstance(names, str):
        names = list_from_text(names)
    known = sorted(set(Stemmer.algorithms()) - ENGLISH_STEMMERS)
    spelt = {name.strip().lower() for name in names if name.strip()}
    wanted = {ISO_LANGUAGES.get(name.replace("_", "-").split("-")[0], name) for name in spelt} - ENGLISH_STEMMERS
    if unknown := sorted(wanted - set(known)):
        by_language = sorted(ISO_LANGUAGES.items(), key=lambda coded: coded[1])
        codes = ", ".join(code for code, name in by_language if name in known)
        raise ValueError(
            f"unknown language {unknown[0]!r}; give Snowball's names ({', '.join(known)}) or their ISO 639-1 codes "
            f"({codes}), as a JSON list or separated by commas (English: always on)"
        )
    return sorted(wanted)


TEXT_LOG = "%(levelname)s: %(name)s: %(message)s"
"""A log line as text (``PATHATLAS_LOG_FORMAT=text``)."""


class JsonLines(logging.Formatter):
    """A log record as one JSON object on one line (``PATHATLAS_LOG_FORMAT=json``): what a log collector (Loki,
    CloudWatch, journald's JSON export) parses without a pattern for each line's shape; a traceback is one field, and
    so is each field the record was given (``extra``: an access line's ``status``, a request's ``request_id``)."""

    OWN_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}
    """A record's attributes that are not given fields (uvicorn's ``color_message`` is its message in colours)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        given = {key: value for key, value in vars(record).items() if key not in self.OWN_FIELDS | entry.keys()}
        if record.exc_info:
            given["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry | given, ensure_ascii=False, default=str)


UPLOADS = "uploads"
"""The folder of a home holding its upload folders (``Settings.uploads_dir``), one per upload, named by its upload id:
the REST service stores uploads there, and an uploaded deck's includes stay within its own (``notes.include_scope``)."""
OWNER_FILE = ".index"
"""In an upload folder: the index it was uploaded to, by absolute path. Several indexes may share a home's uploads; a
service sweeps only its own index's. It marks a folder as an upload's (``notes.upload_folder``)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PATHATLAS_", env_nested_delimiter="__", hide_input_in_errors=True)
    """Inputs stay out of pydantic's own errors, which a secret may be (``load_settings`` shows those that are not)."""

    home: Path = Field(default_factory=_default_home, description="Caches and the default index live here.")
    index: Path | None = Field(None, description="Index folder; defaults to <home>/index.")
    encoder: str = Field("default", description=f"Encoder name: {', '.join(NAMES['encoder'])}.")
    store: str = Field(
        "faiss",
        description=f"Vector store of a new index: {', '.join(NAMES['store'])}. An index keeps the store it was built "
        "with: set to another, opening it is refused, naming both (unset, each index opens with its own).",
    )
    qdrant_url: str | None = Field(None, description="Qdrant server or cluster URL; unset means embedded.")
    qdrant_api_key: str | None = Field(  # secrets (repr=False) are in no repr and no error
        None, repr=False, description="API key of a Qdrant server or cluster."
    )
    qdrant_collection: str | None = Field(None, description="Collection on a Qdrant server; defaults to 'pathatlas'.")
    sources: CommaList = Field(
        default_factory=list,
        description="Extra Source classes ('py:package.module.Class'), asked before pdf and cases; a JSON list or "
        "separated by commas.",
    )
    device: str = Field("cpu", description="Torch device for encoders: cpu, cuda (or cuda:N), mps, auto.")
    joint_heads: Path | None = Field(
        None, description="Folder of joint heads from `pathatlas train-joint`; unset means the shipped weights."
    )

    batch_size: int = Field(32, ge=1, description="Texts or images an encoder encodes at once.")
    hnsw_threshold: int = Field(20_000, ge=1, description="FAISS spaces above this many vectors use HNSW.")
    hnsw_m: int = Field(32, ge=2, description="FAISS HNSW links per node (below 2 faiss aborts the process).")
    hnsw_ef_search: int = Field(128, ge=1, description="HNSW search beam (FAISS; a Qdrant server).")
    faiss_index: Literal["hnsw", "hnsw-fp16", "hnsw-sq8", "ivf-sq8", "ivf-pq", "ivf-sq4-rerank"] = Field(
        "hnsw",
        description="FAISS index above hnsw_threshold: HNSW over float32, fp16 or 8-bit codes, IVF with 8-bit "
        "or PQ codes (least memory), or IVF with 4-bit codes in memory whose shortlist is re-ranked from fp16 "
        "vectors in a memory-mapped file. Below the threshold search is exact.",
    )
    ivf_nprobe: int = Field(32, ge=1, description="IVF lists a FAISS search visits.")
    faiss_rerank_factor: int = Field(
        4, ge=1, description="ivf-sq4-rerank: shortlist this many times k from the 4-bit codes, then re-rank exactly."
    )
    faiss_rebuild_fraction: float = Field(
        0.2, gt=0, le=1, description="An HNSW space is rebuilt once this share (0 to 1) of its vectors are deleted."
    )
    faiss_compact_fraction: float = Field(
        0.2, gt=0, description="A FAISS commit writes a full snapshot once deltas hold this share of the records."
    )
    qdrant_hnsw_m: int = Field(
        16, ge=4, description="Embedded Qdrant HNSW links per node (16 builds 2.5x cheaper than 32, same recall here)."
    )
    qdrant_ef_construct: int = Field(64, ge=8, description="Embedded Qdrant HNSW build beam.")
    qdrant_indexing_threshold_kb: int = Field(
        20_000, ge=0, description="Embedded Qdrant builds HNSW for a segment once it holds this many KB of vectors."
    )

    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    weight_bm25: Weight = Field(1.0, description="Weight of BM25 (words); 0: text queries rank by meaning alone.")
    weight_text: Weight = Field(
        1.0, description="Weight of the text space (meaning); 0: text queries rank by words alone."
    )
    weight_visual: Weight = Field(1.0, description="Weight of the visual space (image to image) for image queries.")
    weight_joint: Weight = Field(
        1.0, description="Weight of the joint space for text queries, where an encoder's search it (the default's not)."
    )
    weight_joint_image: Weight = Field(
        4.0,
        description="Weight of the joint space for image queries; chosen on folds of 13 atlas and 178 LC25000 queries, "
        "the LC25000 ones not held out: their augmented copies trained the joint heads (BENCHMARKS.md).",
    )
    candidates: int = Field(100, ge=1, description="Hits each ranker contributes before fusion.")
    case_keypoints: bool = Field(
        True,
        description="Keep SIFT keypoints of case images (about 0.2 s of CPU each), so image queries can find the same "
        "specimen: another zoom, crop or serial section of one slide (retrieval/local.py).",
    )
    verify_depth: int = Field(50, ge=0, description="An image query's top candidates checked for the same specimen.")
    verify_inliers: int = Field(
        12,
        ge=1,
        description="Keypoint matches one geometric transform must explain for a candidate to be the same specimen; "
        "chosen on case folds of the dev atlas (ties: the stricter).",
    )
    diagnosis_vote: int = Field(
        10,
        ge=0,
        description="An image query's top hits that vote on a diagnosis: when at least two of them and half of those "
        "with one share a diagnosis, the diagnosed hits after the first five show its images first (the first five and "
        "hits without a diagnosis keep their places; LC25000 same-diagnosis precision@10 on the 110 tiles held out "
        "from the joint heads: 0.890 -> 0.900, not significant, BENCHMARKS.md). 0: off.",
    )
    weight_bm25_image: Weight = Field(
        256.0,
        description="Weight of BM25 over the words printed in an image query (``query_ocr``): 64 x weight_joint_image, "
        "so a labelled diagram's own words lead and its look fills in (every held-out module fold of the book's "
        "figures chose 64 against the joint space's 1).",
    )
    weight_words_image: Weight = Field(
        8.0,
        description="Multiplies the weights of the words' rankers (BM25 and the text query's spaces) when words "
        "come with an image query and no record holds every one of them (a short search's words that some records "
        "hold are shown first, the image ordering them at the words' text-search weights), so words beside an image "
        "still count: every diagnosis fold's choice (8, 8, 8) of `pathatlas bench retrieval --image-words` before "
        "held words came first (BENCHMARKS.md). 1: the words weigh as in a text search.",
    )
    weight_specimen: Weight = Field(
        100.0,
        description="Weight of the same-specimen ranker, which orders the verified candidates among themselves; they "
        "rank above the rest whatever the other weights (Searcher.fuse). 0: off.",
    )
    pages_per_section: int = Field(
        1,
        ge=0,
        description="A text search shows this many pages of each bookmark section before any section's next "
        "(0: score order alone); the top hit never moves. The agent's evidence searches use 0.",
    )
    all_words_first: int = Field(
        4,
        ge=0,
        description="A text search of at most this many words (function words aside) ranks the records holding every "
        "one of them first, as a search box does: 'lung adenocarcinoma' finds lung tiles before colon cases. 0: off.",
    )
    ranker_file: Path | None = Field(
        None,
        description="Text ranker weights, as 'pathatlas bench tune-text' writes them; unset: retrieval/ranker.json "
        "if one was put there (none ships), else the plain fusion (fusion.PLAIN_WEIGHTS). A file set here must exist.",
    )

    answerer: str = Field("offline", description=f"Answerer for ask and bench qa: {', '.join(NAMES['answerer'])}.")
    agent_rounds: int = Field(
        1, ge=1, description="Search rounds the agent may take (a second round is not shown to help on dev)."
    )
    agent_k: int = Field(8, ge=1, description="Hits each sub-query keeps as evidence.")
    llm_provider: str = Field("openai", description="openai (any OpenAI-compatible server) or ollama.")
    llm_base_url: str | None = Field(
        None, description="URL of the LLM server, e.g. http://127.0.0.1:8080/v1 for llama.cpp or vLLM."
    )
    llm_api_key: str | None = Field(None, repr=False, description="API key of the LLM server (OpenAI's, for one).")
    llm_model: str = Field("default", description="Model the LLM server is asked for.")
    llm_timeout: float = Field(60.0, gt=0, allow_inf_nan=False, description="Seconds one LLM request may take.")
    llm_retries: int = Field(2, ge=0, description="Extra tries when the model's reply cannot be parsed.")
    llm_server_retries: int = Field(
        2, ge=0, description="Extra tries when the LLM is busy (429), fails (5xx) or times out, not on other 4xx."
    )
    llm_retry_wait: float = Field(
        1.0,
        ge=0,
        description="Seconds before the first such try, doubled for each next one; the server's Retry-After wins. "
        "All waits of one request together stay within llm_timeout.",
    )
    llm_max_tokens: int = Field(400, ge=16, description="Reply length cap, so a looping model cannot stall a run.")
    llm_evidence_items: int = Field(8, ge=0, description="Evidence items shown to the model.")
    llm_evidence_chars: int = Field(1500, ge=100, description="Characters of each evidence item shown to the model.")
    llm_json_mode: bool = Field(True, description="Ask OpenAI-compatible servers for a JSON object reply.")
    llm_images: bool = Field(False, description="Send the question image and evidence images (for VLMs).")

    api_token: str | None = Field(
        None,
        repr=False,
        description="When set, index and delete endpoints require this bearer token: the lecturer's, which may do "
        "every write.",
    )
    upload_token: str | None = Field(
        None,
        repr=False,
        description="A second bearer token, for students on a course server: it may upload to index and cancel jobs, "
        "not remove a source nor replace one by uploading its name again (403: the lecturer's PATHATLAS_API_TOKEN "
        "may). Unset: only PATHATLAS_API_TOKEN writes.",
    )
    cors_origins: CommaList = Field(
        default_factory=list,
        description="Origins allowed to call the REST API (scheme://host[:port], or *), a JSON list or separated by "
        "commas.",
    )
    api_url: str | None = Field(
        None, description="The REST API the web UI talks to (a running `pathatlas serve`); unset: its own, in process."
    )
    ui_read_only: bool = Field(
        False,
        description="The web UI's Library lists sources, without add or remove (`pathatlas ui` sets it off loopback).",
    )
    ui_timeout_s: float = Field(
        600.0,
        gt=0,
        allow_inf_nan=False,
        description="Seconds the web UI waits for the REST API's answer: an LLM answerer may take minutes.",
    )
    max_upload_mb: int = Field(200, ge=1, description="Largest upload to index (a PDF or a zip) the REST API accepts.")
    max_query_image_mb: int = Field(
        20,
        ge=1,
        description="Largest image query (/search/image, /ask/image) the REST API accepts, read whole into memory: a "
        "phone photo or a slide screenshot is a few MB (its pixels are capped by max_image_pixels).",
    )
    max_jobs: int = Field(
        8, ge=1, description="Index jobs waiting or running at once; another upload is refused (429) until one ends."
    )
    max_unpacked_mb: int = Field(2000, ge=1, description="Largest total size an uploaded zip may unpack to.")
    max_zip_members: int = Field(20_000, ge=1, description="Most files an uploaded zip may hold.")
    max_query_chars: int = Field(4000, ge=1, description="Longest text query or question accepted.")
    max_page_pixels: int = Field(
        12_000_000, ge=1, description="Most pixels of a page rendered by the API (its dpi is lowered to fit)."
    )

    max_image_pixels: int = Field(60_000_000, ge=1, description="Larger images are refused (decompression bombs).")
    max_pdf_pages: int = Field(5_000, ge=1, description="PDFs with more pages are refused.")
    thumbnail_px: int = Field(
        384,
        ge=16,
        description="Longest side of stored thumbnails (a page's at most its render, page_render_dpi); changed, the "
        "next index re-reads each source and makes them anew, encoding nothing again.",
    )
    page_render_dpi: int = Field(40, ge=10, description="DPI of page thumbnails and of image-only pages.")
    min_figure_px: int = Field(64, ge=0, description="Embedded images smaller than this (either side) are ignored.")
    passage_min_words: int = Field(60, ge=1, description="PDF text blocks merge into passages of at least this.")
    passage_max_words: int = Field(200, ge=10, description="... and at most this many words (longer blocks split).")
    figure_ocr: bool | None = Field(
        None,
        validate_default=True,
        description="Read the words printed in figure images (tesseract), which figure searches match; unset: on "
        "when tesseract is installed (the 720-figure A&P book indexes in 125 s instead of 71 s).",
    )
    query_ocr: bool | None = Field(
        None,
        validate_default=True,
        description="Read the words printed in an image query (tesseract, in the process where tesserocr is installed, "
        "beside the vector search: +8-53 ms at p50 on 2 cores) and match them by BM25, so a labelled diagram "
        "finds its captions and pages; unset: on when tesseract is installed.",
    )
    languages: CommaList = Field(
        default_factory=list,
        description="Languages of the library besides English, as Snowball names them (PyStemmer's algorithms(): "
        "german, spanish, french, ...) or by ISO 639-1 code (de, es, fr, pt), a JSON list or separated by commas: "
        "BM25 also reads every text by each one's stems, so 'Entzündungen' finds 'Entzündung'. An index's BM25 "
        "records its languages; opened with others, it is read again from the store (in memory) until `pathatlas "
        "index` saves it. Turkish texts are told by their letters without it.",
    )
    passage_vectors: bool = Field(
        False, description="Give passages text vectors too (about 2.9x the text encoding time; pages always have one)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO",
        description="Level of the 'pathatlas' logger (stderr): index jobs' ends, a server that is not ready. Any case.",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="How log lines are written: text, or json (one object per line: time, level, logger, message) for "
        "a log collector; `serve` writes uvicorn's access and error lines alike. Any case.",
    )

    @field_validator("home", "index", "joint_heads", "ranker_file", mode="before")
    @classmethod
    def _path_given(cls, value: object) -> object:
        """An empty path would mean the current folder (``PATHATLAS_HOME=`` would write caches wherever a command
        runs)."""
        if isinstance(value, str) and not value.strip():
            raise ValueError("empty; give a folder (or unset the variable)")
        return value

    @field_validator("encoder", *CHECKED_NAMES, mode="before")
    @classmethod
    def _name_given(cls, value: object, info: ValidationInfo) -> object:
        """An empty name is refused as an unknown one is: ``--store ""`` would otherwise become faiss unsaid."""
        if isinstance(value, str) and not value.strip():
            raise ValueError(f"empty; give one of {known_names(info.field_name)}")
        return value

    @field_validator(*CHECKED_NAMES)
    @classmethod
    def _known_name(cls, value: str, info: ValidationInfo) -> str:
        """A built-in name or a plug-in's checked at start, importing nothing: ``PATHATLAS_ANSWERER=gpt`` would
        otherwise be refused only by the first question, in a line naming no setting."""
        names = NAMES[info.field_name]
        plugged = PLUGIN in names and value.startswith("py:")
        if value in names or (plugged and PLUGIN_NAME.fullmatch(value)):
            return value
        if plugged:
            raise ValueError(f"not a plug-in's path; write {PLUGIN}")
        raise ValueError(f"unknown {info.field_name.replace('_', ' ')}; give one of {known_names(info.field_name)}")

    @field_validator("home", "index", "joint_heads", "ranker_file")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        """``~`` in a path from the environment, which no shell expanded inside quotes (``PATHATLAS_HOME='~/ph'``)."""
        return value.expanduser() if value is not None else None

    @field_validator("api_token", "upload_token")
    @classmethod
    def _token_stripped(cls, value: str | None) -> str | None:
        """A token read from an env file or a secret often ends in a space or newline, which HTTP strips from every
        header: kept, it could never match, and every write would be refused as the client's fault. Blank is no
        token."""
        return (value or "").strip() or None

    @field_validator("upload_token")
    @classmethod
    def _students_own_token(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The upload token must not be the lecturer's: the same token would give students every write."""
        if value is not None and value == info.data.get("api_token"):
            raise ValueError("the same as PATHATLAS_API_TOKEN; give students a token of their own")
        return value

    @field_validator("qdrant_url")
    @classmethod
    def _qdrant_url(cls, value: str | None) -> str | None:
        """A server's URL names its scheme: without one, 'qdrant.example.org:6333' would be a folder of that name in the
        current one (a local copy's files) and the vectors would silently go there. A local copy is named by its full
        path (as ``export --to FOLDER`` records it); ``:memory:`` is qdrant-client's twin in memory."""
        if value == ":memory:" or (value and Path(value).expanduser().is_absolute()):
            return value
        return http_url(value, " (a local Qdrant copy: its full path)")

    @field_validator("llm_base_url", "api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return http_url(value)

    @field_validator("sources")
    @classmethod
    def _plugin_names(cls, value: list[str]) -> list[str]:
        if unnamed := [name for name in value if not PLUGIN_NAME.fullmatch(name)]:
            raise ValueError(f"name each source as {PLUGIN!r}, not {unnamed[0]!r}")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        """Each origin as a browser sends it, which CORS compares whole: 'https://a.org/' (a path) would never match."""
        if wrong := [origin for origin in value if not ORIGIN.fullmatch(origin)]:
            raise ValueError(f"{wrong[0]!r} is no origin; give each as scheme://host[:port], without a path, or *")
        return value

    @field_validator("languages")
    @classmethod
    def _snowball_languages(cls, value: list[str]) -> list[str]:
        """Checked and spelt once (``snowball_languages``), as the index records them."""
        return snowball_languages(value)

    @field_validator("device")
    @classmethod
    def _torch_device(cls, value: str) -> str:
        """A device torch knows, checked here rather than by torch at the first model load (which names no setting)."""
        if not DEVICE.fullmatch(value):
            raise ValueError("use cpu, cuda (or cuda:N), mps or auto")
        return value

    @field_validator("passage_max_words")
    @classmethod
    def _passage_sizes(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("passage_min_words")  # absent when it failed its own check
        if low is not None and low > value:
            raise ValueError(f"below PATHATLAS_PASSAGE_MIN_WORDS={low}; lower that one or raise this one")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_upper(cls, value: object) -> object:
        known = isinstance(value, str) and value.upper() in get_args(Settings.model_fields["log_level"].annotation)
        return value.upper() if known else value  # an unknown one is refused as it was written

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_lower(cls, value: object) -> object:
        known = isinstance(value, str) and value.lower() in get_args(Settings.model_fields["log_format"].annotation)
        return value.lower() if known else value

    @field_validator("figure_ocr", "query_ocr")
    @classmethod
    def _ocr_when_installed(cls, value: bool | None) -> bool:
        return tesseract.installed() if value is None else value

    @property
    def figure_ocr_missing(self) -> bool:
        """Figure OCR is off only because tesseract is not installed (not because the user turned it off)."""
        return not self.figure_ocr and "figure_ocr" not in self.model_fields_set

    def configure_logging(self) -> None:
        """The ``pathatlas`` logger at ``log_level``, on stderr unless the host application set up logging (a handler on
        it or the root logger), and bm25s's debug lines ("Building index from tokens") kept out of every handler."""
        logger = logging.getLogger("pathatlas")
        logger.setLevel(self.log_level)
        if not logger.hasHandlers():
            handler = _StderrNow()  # stderr: stdout carries --json documents and the MCP protocol
            handler.setFormatter(JsonLines() if self.log_format == "json" else logging.Formatter(TEXT_LOG))
            logger.addHandler(handler)
        bm25s = logging.getLogger("bm25s")
        bm25s.setLevel(logging.WARNING)  # its import sets DEBUG again: the filter outlasts that
        if not any(isinstance(f, _AtLeastWarning) for f in bm25s.filters):
            bm25s.addFilter(_AtLeastWarning())

    @property
    def index_dir(self) -> Path:
        return self.index or self.home / "index"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def uploads_dir(self) -> Path:
        return self.home / UPLOADS

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    def fusion_weights(self) -> dict[str, float]:
        return {
            "bm25": self.weight_bm25,
            "text": self.weight_text,
            "visual": self.weight_visual,
            "joint": self.weight_joint,
            "joint:image": self.weight_joint_image,
            "bm25:image": self.weight_bm25_image,
            "specimen": self.weight_specimen,
        }


def known_names(field: str) -> str:
    """The names a setting that names a class (``encoder``, ``store``, ...) takes, as one line lists them."""
    return ", ".join(NAMES[field])


def empty_name(option: str, field: str) -> str:
    """One line refusing an empty ``--store`` or ``--encoder``, naming what it takes."""
    return f"{option} is empty: give one of {known_names(field)}"


OTHER_VARIABLES = frozenset(
    {
        "PATHATLAS_ROOT_PATH",
        "PATHATLAS_CRASH_AT",
        "PATHATLAS_CRASH_COUNT",
    }
)
"""``PATHATLAS_`` variables that are no setting: ``serve --root-path``'s and the crash bench's."""
TEST_VARIABLES = "PATHATLAS_TEST_"
"""The test suite's own variables (a plugin store to test, the whole book's index) begin so."""


def setting_variables() -> list[str]:
    """Every setting's variable, as pydantic-settings reads it: the prefix and the field's name, in any case."""
    prefix = Settings.model_config["env_prefix"]
    return sorted(f"{prefix}{name}".upper() for name in Settings.model_fields)


URL_SETTINGS = ("qdrant_url", "llm_base_url", "api_url")
"""Settings whose URL may carry a password (``https://user:pass@host``) or a key in its query (``?api-key=``)."""


def without_credentials(url: str) -> str:
    """``url`` as ``pathatlas settings`` shows it: a password or user and the query replaced by ``***``, which may hold
    what a secret setting would (a Qdrant password, an LLM gateway's key)."""
    parts = urlsplit(url)
    if not parts.scheme:
        return url  # a local folder (``QDRANT_URL``'s copy)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    netloc = ("***@" if parts.username or parts.password else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


def described(settings: Settings) -> list[dict[str, object]]:
    """Each setting as ``pathatlas settings`` shows it: its variable, the value in effect (a secret's only "set", or
    None), where that came from (the environment, for settings ``load_settings`` read without values, or the default)
    and what it does."""
    prefix = Settings.model_config["env_prefix"]
    secrets = {name for name, field in Settings.model_fields.items() if not field.repr}
    values = settings.model_dump(mode="json", exclude=secrets)
    values.update({name: without_credentials(values[name]) for name in URL_SETTINGS if values.get(name)})
    return [
        {
            "variable": f"{prefix}{name}".upper(),
            "value": "set" if name in secrets and getattr(settings, name) is not None else values.get(name),
            "source": "environment" if name in settings.model_fields_set else "default",
            "secret": name in secrets,
            "description": field.description,
        }
        for name, field in Settings.model_fields.items()
    ]


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One line for each ``PATHATLAS_`` variable that is no setting, with the closest setting's name: a mistyped one
    (``PATHATLAS_ENCODR``) would otherwise be ignored unsaid. Lines to warn, not errors: a newer setting's name set for
    a newer install must not stop an older one."""
    prefix = Settings.model_config["env_prefix"].upper()
    known = setting_variables()
    fields = [name.removeprefix(prefix) for name in known]
    lines = []
    for variable in sorted(environ):
        name = variable.upper()
        if not name.startswith(prefix) or name in known or name in OTHER_VARIABLES or name.startswith(TEST_VARIABLES):
            continue
        close = difflib.get_close_matches(name.removeprefix(prefix), fields, n=1)
        lines.append(f"{variable} is not a setting" + (f" (did you mean {prefix}{close[0]}?)" if close else ""))
    return lines


ENVIRONMENT_ERRORS = {
    errno.EROFS: "read-only",
    errno.EACCES: "read-only",
    errno.EPERM: "read-only",
    errno.ENOSPC: "full",
    errno.EDQUOT: "full",
    errno.EFBIG: "full",  # a file over the process's or the file system's size limit (ulimit -f)
    errno.ENOTDIR: "not a folder",
}
"""OS errors on a path that the machine, not PathAtlas, must fix, by what they say of it: it cannot be written by this
process (a read-only mount, no permission) or at all (a full disk, a quota, a file size limit), or a file stands where
a folder must be. The one table: a user's one line (``os_problem``), an unwritable index
(``retrieval.index.unwritable``) and a failed FAISS write (which names the error only in words) read it."""


HOME_ERRORS = frozenset({errno.EEXIST, errno.ENOENT, errno.ELOOP, errno.ENAMETOOLONG})
"""OS errors that are the machine's to fix where PATHATLAS_HOME itself is at fault (``home_fault``): a link to a drive
not mounted (EEXIST, ENOENT), a loop of links, a path too long, a folder nothing can be made in (``/proc/1``). Not in
``ENVIRONMENT_ERRORS``: elsewhere a missing or existing file may be damage (a store's file gone) or a bug."""


HOME_LOOKUP = {
    errno.ELOOP: "it is a loop of symbolic links",
    errno.ENAMETOOLONG: "its path is too long for the file system",
}
"""What a failed lookup of the home folder itself says of it (``home_fault``)."""


def os_problem(exc: BaseException, settings: Settings | None = None, paths: bool = True) -> str | None:
    """An OS error the machine must fix, as one line; None for any other error (a bug keeps its traceback).

    On ``settings.home`` or a path in it, it names PATHATLAS_HOME (the admin chooses that folder), as it does for a
    ``HOME_ERRORS`` error there or on a folder above it where ``home_fault`` sees what is wrong with the home;
    elsewhere (a read-only index, a full disk) its path. ``paths=False`` leaves the paths out (what a REST client
    reads; the server's log has them)."""
    if not isinstance(exc, OSError):
        return None
    named = [Path(os.fsdecode(p)).absolute() for p in (exc.filename, exc.filename2) if p is not None]
    home = settings.home.absolute() if settings is not None else None
    in_home = home is not None and any(path.is_relative_to(home) for path in named)
    above_home = home is not None and any(home.is_relative_to(path) for path in named)  # making it failed there
    fault = home_fault(settings.home, paths) if exc.errno in HOME_ERRORS and (in_home or above_home) else None
    if exc.errno not in ENVIRONMENT_ERRORS and fault is None:
        return None
    reason = f"{exc.strerror or type(exc).__name__} ({errno.errorcode.get(exc.errno or 0, 'no errno')})"
    if in_home or fault is not None:
        where = f"PATHATLAS_HOME={settings.home}" if paths else "PATHATLAS_HOME"
        return f"{where} is not usable: {fault or (exc if paths else reason)}; set it to a folder this user can write"
    if named:
        return f"{os.fsdecode(exc.filename or exc.filename2)}: {exc.strerror}" if paths else f"a server file: {reason}"
    return None


def home_fault(home: Path, paths: bool) -> str | None:
    """What makes the folder ``home`` unusable, read from the folder itself: a loop of links or a path too long (its
    own lookup fails so), a link to nothing at or above it (a drive not mounted), a file, or a folder this user cannot
    write; the link's target only with ``paths``. None where it looks usable: an error in it is then something else."""
    try:
        found = home.stat()
    except OSError as exc:
        if exc.errno in HOME_LOOKUP:
            return f"{HOME_LOOKUP[exc.errno]} ({errno.errorcode[exc.errno]})"
        return dangling_link(home, paths) or unmakeable(home, paths)
    if not stat.S_ISDIR(found.st_mode):
        return "it is a file, not a folder"
    return None if os.access(home, os.W_OK | os.X_OK) else "it is a folder this user cannot write"


def unmakeable(home: Path, paths: bool) -> str | None:
    """Why the missing folder ``home`` cannot be made, as ``home_fault`` says it: the nearest folder above it that is
    there takes no new folder from this user (``/proc/1/pa``: even root's mkdir there says ENOENT). None where it can
    be made."""
    above = next((folder for folder in home.parents if os.path.exists(folder)), None)
    if above is None or takes_folders(above):
        return None
    return f"it cannot be made in {above if paths else 'the folder above it'}, a folder this user cannot write"


def takes_folders(folder: Path) -> bool:
    """Whether this user can make a folder in ``folder``: asked of ``os.access``, then tried where it says yes (the
    folder made is removed at once). To root it says yes of ``/proc`` itself, where root's mkdir says ENOENT:
    ``PATHATLAS_HOME=/proc/x`` ended a search in a traceback."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".pathatlas-", dir=folder))
    except OSError:
        return False
    return True


def dangling_link(home: Path, paths: bool) -> str | None:
    """The link at ``home`` or a folder above it whose target is missing, as ``home_fault`` says it; None for none (a
    home not made yet, under folders that are there)."""
    link = next((folder for folder in (home, *home.parents) if folder.is_symlink() and not folder.exists()), None)
    if link is None:
        return None
    which = "it" if link == home else (str(link) if paths else "a folder above it")
    target = f" to {os.readlink(link)}" if paths else ""
    return f"{which} is a dangling link{target} (a drive not mounted?)"


def setting_problem(error: ErrorDetails, given: Collection[str] = ()) -> str:
    """One refused value as ``PATHATLAS_NAME=value: why``, without the value of a secret (``repr=False``) nor of a name
    that is no setting (a key under a wrong name; a whole object given as one). A value ``given`` by the caller (a
    command's option, a library's argument) is named as the field it set, ``answerer='gpt'``: nobody had set
    ``PATHATLAS_ANSWERER``."""
    name = str(error["loc"][0]) if error["loc"] else ""
    field = Settings.model_fields.get(name)
    shown = f"={error.get('input')!r}" if field is not None and field.repr else ""
    where = "_".join(map(str, error["loc"]))
    return f"{where if name in given else 'PATHATLAS_' + where.upper()}{shown}: {error['msg']}"


class _StderrNow(logging.StreamHandler):
    """A handler writing to ``sys.stderr`` as it is when a line is logged, not when the handler was made: a host that
    lends the process a stderr of its own and closes it (a CLI test runner, a notebook cell's capture) kept every later
    line from being logged ("--- Logging error ---", ValueError: I/O operation on closed file)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _):
        pass

    def setStream(self, stream):  # noqa: N802 - logging's name
        """Nothing to set: it writes to ``sys.stderr`` of the moment (None: no stream was replaced)."""
        return None


class _AtLeastWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def load_settings(**values) -> Settings:
    """Settings from ``PATHATLAS_*`` and ``values``; a value that does not fit is one line naming its variable."""
    from pydantic import ValidationError

    from pathatlas.errors import BadInputError

    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(setting_problem(error, values) for error in exc.errors())
        raise BadInputError(f"bad setting {problems}") from None
