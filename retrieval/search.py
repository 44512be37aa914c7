"""Hybrid search: BM25 plus every vector space the query can reach.

Text queries are ranked by page: a page's passages (and figures) form a group scored by the linear ``Ranker`` in
``fusion.py``, each bookmark section's best page before any section's next within each placing tier
(``pages_per_section``); a page hit carries its best passage, and a page printed again (the same words and look: a
handout's cover twice, a Quarto partial in every deck of a course) is one hit, of the first page of the source whose
copy was placed best, naming the others (``Hit.repeated_on`` in its source, ``Hit.repeated_in`` in others); the figures
a text query names by their printed label ("Figure 6.3") come first (``figure_labels``). A search for figures or cases
alone (``Query.folds_pages``) ranks each record on its own: two figures of a page are two hits. The ranker reads BM25
and dense scores, not fusion weights: a ranker weighted 0 (``PATHATLAS_WEIGHT_BM25=0``, or every dense space's) is left
out of ``rankings``, so the others order the pages alone. Queries with an image keep weighted RRF, where the words
printed in the image (``query_ocr``) join as the ``bm25:image`` ranker; candidates verified as the same specimen are
then pinned first (``verified_first``), and after the first five hits, the diagnosis most of the top ten share comes
first (``diagnosis_vote``).
"""

from __future__ import annotations

import numbers
import os
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from difflib import get_close_matches
from functools import cached_property, partial
from typing import Any, TypeVar

from PIL import Image

from pathatlas.errors import BadInputError, UnknownSourceError, first_few
from pathatlas.plugins import encoded
from pathatlas.retrieval.figure_labels import label_key, named_figures, named_labels
from pathatlas.retrieval.fusion import (
    DENSE_ONLY,
    MAJORITY,
    MAJORITY_KEEP,
    MAJORITY_WINDOW,
    Group,
    Ranker,
    add_scores,
    all_words_first,
    diagnosis_key,
    figures_only,
    group_features,
    majority_next,
    marked_snippet,
    page_key,
    placed_first,
    reciprocal_rank_fusion,
    relative_scores,
    section_of,
    sections_first,
    shown_member,
    term_coverage,
)
from pathatlas.retrieval.images import border_trimmed, check_query_image
from pathatlas.retrieval.index import Index, per_generation
from pathatlas.retrieval.local import Keypoints, inliers, keypoints, same_specimen
from pathatlas.retrieval.marks import query_terms
from pathatlas.retrieval.ocr import TesseractReader, WordReader, query_words, tesseract_engine
from pathatlas.retrieval.records import (
    FILTER_FIELDS,
    KINDS,
    Citation,
    Hit,
    Payload,
    RecordKey,
    distinct_names,
    source_id,
)
from pathatlas.retrieval.stores.base import Filters, ScoredIds, fold, group_by_filters, matches
from pathatlas.retrieval.terms import content_terms, every_word_a_term, has_words, tokenize

T = TypeVar("T")
Fused = tuple[str, float, dict[str, int]]
"""(record id, fused score, {ranker: rank}), as ``reciprocal_rank_fusion`` gives them."""
PRINTED = "bm25:image"
"""The ranker of BM25 over the words printed in an image query (captions, passages, figures' printed words)."""
SPECIMEN = "specimen"
"""The ranker of candidates verified as the same specimen as the query image (keypoints, retrieval/local.py)."""
LABEL = "label"
"""The ranker name a text search's hit carries in ``matched_by`` where it shows a figure the query names by its label
(``Searcher.named_figures``), put first for that: its place among such hits."""
TRIMMED = "trimmed:image"
"""The records an image query's view without its border found first (``Searcher._dense_images``): not a ranking, but
candidates put to the same-specimen check beside the fused ones (``Searcher.fuse``)."""
NOMINATED = 10
"""How many records each image space finds for a query's trimmed view to be checked as the same specimen."""
RANKERS = ("bm25", "dense")
"""Ranker groups a caller may switch off (benchmarks compare BM25 alone, dense alone, both)."""
USER_FILTERS = (*(name for name in FILTER_FIELDS if name != "fingerprint"), "chapter")
"""Fields a caller filters on: the stores' own but ``fingerprint`` (their record of a source's version), and
``chapter``, which ``resolve_filters`` expands to the sections under it."""
CHAPTER = re.compile(r"^(chapter\b|\d+\s)", re.IGNORECASE)
CHAPTER_NUMBER = re.compile(r"(?:chapter\s*)?(\d+)\b", re.IGNORECASE)
PRINTED_CHAPTER = re.compile(r"\s*chapter\s*(\d+)\b", re.IGNORECASE)
"""A chapter's number as its first page prints it atop ("Chapter 1. Cervical Epithelium", "CHAPTER\n4"), where its
bookmark holds the title alone."""
ASKED_CHAPTER = re.compile(r"(?:chapter\s*)?(\d+)[.:]?(?:\s+(.+))?")
"""A chapter as a reader names it by number, with or without a part of its title: "1", "chapter 1.", "1 cells"."""
HELD_FIELDS = ("kind", "organ", "diagnosis", "case")
"""Filter fields whose values are checked against those the index holds (``held_values``): a field none of whose
values a record holds ("glioblastom") is refused, naming the closest held ones, rather than answered with no hits;
alternatives some record holds stay a search (a course's list of organs, some not in this library). ``section`` is
checked so among the sources and chapters asked for (``SectionScope``); ``source`` and ``chapter`` are resolved
instead."""
CLOSEST = 3
"""Held values a refusal names."""
ECHO_CHARS = 200
"""Longest text a refusal echoes, at every door (a filter value, a field's input, an id it does not know): a value of
a megabyte is not sent back whole."""
DEEPER = 4
"""How many times more candidates each ranker gives when a search's candidates fold into fewer than k hits."""


def whole_number(value: object, name: str, least: int) -> int:
    """``value`` as an int, refused in one line unless a whole number of at least ``least``: any integral type (numpy's
    ``int64`` a caller computed k with), not a bool, a "5" or a 5.5, which would fail deep in the search."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise BadInputError(f"{name} must be a whole number, not {value!r}")
    if value < least:
        raise BadInputError(f"{name} must be at least {least}, not {value}")
    return int(value)


def check_image(image: object) -> None:
    """A query's image: a PIL image (a file's name would fail deep in the encoder), large enough to compare
    (``check_query_image``), and decoded here: an ``Image.open`` decodes on first use, and a query's OCR and its
    encoding use it at once, in two threads (a lazily opened file would fail one search in four, at random)."""
    if not isinstance(image, Image.Image):
        raise BadInputError(
            f"image must be a PIL image, not {type(image).__name__}: open a file with "
            "pathatlas.retrieval.images.open_image(path, max_pixels)"
        )
    check_query_image(image)
    try:
        image.load()
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow's words for a truncated or damaged file
        raise BadInputError(f"the query image cannot be decoded: {exc}") from exc


def check_unicode(text: str, name: str) -> None:
    """Refuse in one line text holding a lone surrogate ("\\ud800"), which a Python string may hold and no tokenizer
    encodes. It says what the text holds, not where it came from: the CLI adds its terminal's encoding."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        lone = exc.object[exc.start].encode("unicode_escape").decode()
        raise BadInputError(f"{name} holds a lone surrogate ({lone}): not valid Unicode") from exc


def check_length(text: str, name: str, limit: int) -> None:
    """Refuse in one line a query, question or option over ``limit`` characters (``PATHATLAS_MAX_QUERY_CHARS``), in the
    same words at every door: the CLI and Python named the setting, MCP and LangChain "the limit", each its own way."""
    if len(text) > limit:
        over = f"over the limit of {limit:,} (PATHATLAS_MAX_QUERY_CHARS)"
        raise BadInputError(f"{name} has {len(text):,} characters, {over}")


def as_list(value: str | list[str] | tuple[str, ...] | set[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def path_text(value: object) -> object:
    """A source filter's value, a path (``pathlib.Path``, any ``os.PathLike``) as its text, as a str path is taken;
    anything else as given, for ``check_filters`` to judge."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def as_text(name: object, value: object) -> object:
    """A filter's value with the paths of a ``source`` filter (one, or a list) as text (``path_text``)."""
    if name != "source":
        return value
    return [path_text(item) for item in value] if isinstance(value, list | tuple | set) else path_text(value)


def check_filters(filters: object) -> None:
    """Filters as a caller gives them (field to a text or a list of texts; a source may be a path too). One that could
    only match nothing, an unknown field or kind, no value, a value that is not text, is refused in one line rather
    than answered with no hits."""
    if not isinstance(filters, Mapping):
        raise BadInputError(
            f"filters must be a mapping of field to value(s), e.g. {{'kind': 'figure'}}; not {filters!r:.60}"
        )
    if unknown := sorted(map(str, set(filters) - set(USER_FILTERS))):
        raise BadInputError(f"unknown filter field {quoted(unknown[0])}; use {', '.join(USER_FILTERS)}")
    for name, given in filters.items():
        value = as_text(name, given)
        if blank(value):
            raise BadInputError(empty_filter(name))
        values = as_list(value) if isinstance(value, str | list | tuple | set) else None
        if values is None or not all(isinstance(item, str) for item in values):
            raise BadInputError(f"filter {name!r} takes text or a list of texts, not {value!r:.60}")
    if unknown := [kind for kind in as_list(filters.get("kind", [])) if kind.strip() not in KINDS]:
        raise BadInputError(f"unknown kind {quoted(unknown[0])}; use {', '.join(KINDS)}")


def blank(value: object) -> bool:
    """A filter value with nothing to match: no text, a blank one, or a list holding none or a blank one."""
    values = as_list(value) if isinstance(value, str | list | tuple | set) else [value]
    return not values or any(isinstance(item, str) and not item.strip() for item in values)


def empty_filter(name: object) -> str:
    """The refusal of a ``blank`` filter value, at every door ("" is text: saying it takes text told nothing)."""
    return f"filter {name!r} is empty: give a value or leave it out"


def stripped(value: str | list | tuple | set) -> str | list[str]:
    return value.strip() if isinstance(value, str) else [item.strip() for item in value]


def resolve_filters(filters: Filters, index: Index) -> Filters:
    """Filters as the stores take them, from filters as a caller gives them (``check_filters``): a source named by file
    name, id or path (as ``remove`` takes it) becomes its key, a chapter the sections under it, a section named by its
    last parts its whole path among those of the sources and chapters asked for (``SectionScope``), ``kind=page``
    takes the passages too (``with_passages``). Every door's filters come through here; an unknown source or chapter,
    or a field of ``HELD_FIELDS`` (or a section) no value of which a record holds, is refused in one line. Resolved
    filters resolve to themselves."""
    check_filters(filters)
    asked = {name: stripped(as_text(name, value)) for name, value in filters.items()}  # " lung " is "lung"
    resolved = dict(asked)
    if "source" in resolved:
        keys = [index.resolve_source(name) for name in as_list(resolved["source"])]
        resolved["source"] = keys if len(keys) > 1 else keys[0]
    if "section" in asked or "chapter" in asked:
        sources = as_list(resolved["source"]) if "source" in resolved else None
        resolved.pop("chapter", None)
        resolved["section"] = SectionScope.of(asked, sources, index).resolved(asked.get("section"), index)
    for name in (name for name in HELD_FIELDS if name in resolved):
        held = held_values(index, name)
        values = as_list(resolved[name])
        if not any(fold(name, value) in held for value in values):
            raise UnknownSourceError(not_held(name, values[0], held, index))
    return with_passages(resolved)


@dataclass
class SectionScope:
    """The sections a section filter's values are among: those of the sources asked for and under the chapters asked
    for, else the index's. Two books' "6.3" beside ``source=`` one of them, or "Introduction" beside ``chapter=6``,
    were refused as naming several sections, the filter that tells them apart looked at only after."""

    held: dict[Any, str]
    """The sections as ``held_values`` gives them: by the form a filter matches them in, to their spelling."""
    where: str = ""
    """Where they lie, as a refusal says it before the index (``where_asked``); "" for the whole index."""
    chapters: list[str] | None = None
    """The sections under the chapters asked for (``Chapters.sections_under``); None without a chapter filter."""

    @classmethod
    def of(cls, asked: Filters, sources: list[str] | None, index: Index) -> SectionScope:
        """The scope of filters ``asked`` (as given, stripped), whose sources are the keys ``sources``. A chapter is
        among the sources asked for too: "5" of a four-chapter primer is none, not another book's."""
        held = held_values(index, "section")
        if "chapter" in asked:
            where = where_asked(asked, ("source",))
            chapters = Chapters.of(index, sources).sections_under(as_list(asked["chapter"]), index, where)
            lying: Collection[str] = chapters
        elif sources is not None:
            chapters, lying = None, sections_of(index, sources)
        else:
            return cls(held)
        folds = {fold("section", section) for section in lying}
        return cls({key: spelling for key, spelling in held.items() if key in folds}, where_asked(asked), chapters)

    def resolved(self, section: str | list[str] | None, index: Index) -> str | list[str]:
        """The section filter as the stores take it, from a section filter as given (``section``) and the chapter
        filter: each value's whole path (``whole_section``), refused (``not_held``) where none lies here; beside a
        chapter filter those that lie under its chapters, else all the sections there."""
        if section is None:
            return self.chapters or []
        sections = [whole_section(value, index, self) for value in as_list(section)]
        if not any(fold("section", value) in self.held for value in sections):
            raise UnknownSourceError(not_held("section", sections[0], self.held, index, self.where))
        if self.chapters is not None:
            return [value for value in sections if fold("section", value) in self.held]
        return sections if len(sections) > 1 else sections[0]


def where_asked(asked: Filters, fields: tuple[str, ...] = ("chapter", "source")) -> str:
    """Where a section (or with ``fields`` ``("source",)``, a chapter) was looked for, as a refusal says it before the
    index: "chapter '6' of source 'bone.pdf' in " (those filters as given, a few values of each: a list of thousands
    is not echoed whole), "" for the whole index."""
    names = [name for name in fields if name in asked]
    named = [f"{name} {first_few([quoted(value) for value in as_list(asked[name])], CLOSEST)}" for name in names]
    return f"{' of '.join(named)} in " if named else ""


def whole_section(value: str, index: Index, scope: SectionScope) -> str:
    """A section filter's value as the stores match it, a section's whole bookmark path among those of ``scope``: one
    of them as given; else the one whose last parts it names (``names_section``: "Bone Structure", "6.3 Bone
    Structure" or "6.3" of "Chapter 6: Bone Tissue and the Skeletal System > 6.3 Bone Structure"). Refused in one
    line, listing them, where it names several ("Introduction" of each chapter, "6.3" of two books); where it names
    none, as given (``not_held`` refuses it, naming the closest)."""
    if fold("section", value) in scope.held:
        return value
    tail = section_parts(value)
    named = sorted((section for section in scope.held.values() if names_section(tail, section)), key=book_order)
    if len(named) > 1:
        raise UnknownSourceError(
            f"section {quoted(value)} names {len(named)} sections in {scope.where}index {index.path}: "
            f"{first_few([repr(section) for section in named], CLOSEST)}; give its whole path"
        )
    return named[0] if named else value


def section_parts(section: str) -> list[str]:
    """A bookmark path's parts ("Chapter 6 ... > 6.3 Bone Structure") as they are compared: case and spacing aside."""
    return [spaced(part) for part in str(fold("section", section)).split(">") if part.strip()]


SECTION_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+")
"""A section's number before its title ("6.3 " of "6.3 Bone Structure"), which a reader may leave out, or give alone."""


def part_names(part: str) -> tuple[str, ...]:
    """What a section's part (``section_parts``) may be called: whole, its title without its number, or its number
    alone ("6.3 bone structure", "bone structure", "6.3"), as a chapter is by its number. "6.3" was refused, the
    refusal naming "... > 6.3 Bone Structure" as the closest section."""
    number = SECTION_NUMBER.match(part)
    return (part, part[number.end() :], number.group(1)) if number else (part,)


def names_section(tail: list[str], section: str) -> bool:
    """Whether ``tail`` (``section_parts``) is ``section``'s last parts, the chapter (or more) left out, each as
    ``part_names`` names it ("bone structure" or "6.3" of "6.3 Bone Structure")."""
    parts = section_parts(section)
    if not 0 < len(tail) <= len(parts):
        return False
    return all(t in part_names(p) for t, p in zip(tail, parts[-len(tail) :], strict=True))


def book_order(text: str) -> list[str | int]:
    """``text`` as a book orders its parts: numbers by their value ("Chapter 6" before "Chapter 12")."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def held_values(index: Index, name: str) -> dict[Any, str]:
    """The values of field ``name`` the index's stored records hold (a list's items each), by the form a filter
    matches them in (``fold``: "Glioblastoma" as "glioblastoma") to their most common spelling. Counted by the store
    itself (field codes, Qdrant's facets: no payload read), whose records of a version not committed yet or replaced
    may add a value that then finds nothing; once per generation, since every search resolves its filters again, and the
    agent's each sub-query."""
    counted = _held_fields(index)
    if name not in counted:
        by_fold: dict[Any, str] = {}
        for value, _ in sorted(index.raw_store.value_counts(name).items(), key=lambda item: (-item[1], str(item[0]))):
            for item in value if isinstance(value, list | tuple) else (value,):
                if isinstance(item, str) and item:  # a page outside any bookmark has the section ""
                    by_fold.setdefault(fold(name, item), item)
        counted[name] = by_fold
    return counted[name]


@per_generation
def _held_fields(index: Index) -> dict[str, dict[Any, str]]:
    """Per field, the values ``held_values`` counted in the index's current generation, filled as fields are asked."""
    return {}


def closest_spellings(
    wanted: str, spellings: Mapping[str, str], cutoff: float = 0.6, same_start: bool = False
) -> list[str]:
    """The spellings (values of ``spellings``, keyed by the folded form compared) of at most ``CLOSEST`` keys closest
    to ``wanted``: spelt like it (difflib's ratio at least ``cutoff``; with ``same_start``, only keys starting with its
    letter), then holding it. What a refused filter value and an unindexed query word name."""
    keys = [key for key in spellings if key[:1] == wanted[:1]] if same_start else list(spellings)
    close = get_close_matches(wanted, keys, n=CLOSEST, cutoff=cutoff) + [key for key in keys if wanted in key]
    return [spellings[key] for key in dict.fromkeys(close)][:CLOSEST]


def not_held(name: str, value: str, held: Mapping[Any, str], index: Index, where: str = "") -> str:
    """The one line refusing a filter value no record holds (of those ``where`` says: ``SectionScope.where``): the
    held values closest to it (by spelling, or holding it: "adenocarcinoma" names "pancreatic ductal adenocarcinoma"),
    else the first few, else that there are none."""
    spelt = {str(key).casefold(): spelling for key, spelling in held.items()}
    wanted = str(fold(name, value)).casefold()
    closest = closest_spellings(wanted, spelt)
    refused = f"no {name} {quoted(value)} in {where}index {index.path}"
    if closest:
        return f"{refused}; closest: {', '.join(map(repr, closest))}"
    if not spelt:
        return f"{refused}; its records have no {name}"
    return f"{refused}; it has {first_few([repr(value) for value in spelt.values()], CLOSEST)}"


def echoed(text: str) -> str:
    """``text`` as a refusal echoes it: at most ``ECHO_CHARS`` characters, saying how long it was when cut."""
    return text if len(text) <= ECHO_CHARS else f"{text[:ECHO_CHARS]}... ({len(text):,} characters)"


def quoted(value: str) -> str:
    """``value`` as a refusal quotes it: its repr, cut (``echoed``)."""
    return repr(echoed(value))


def chapter_of(section: str) -> str:
    """The chapter level of a bookmark path: its first part that reads like a chapter, else its first part."""
    parts = [p.strip() for p in section.split(" > ") if p.strip()]
    return next((p for p in parts if CHAPTER.match(p)), parts[0] if parts else "")


@dataclass
class Chapters:
    """A chapter is not stored on its own: it is the first level of a page's bookmark path (``section``) that reads
    like a chapter ("4 The Tissue Level of Organization", "Chapter 4 ..."), so a chapter filter expands to the
    sections under it."""

    sections: dict[str, set[str]] = field(default_factory=dict)
    """Chapter to the sections under it."""
    printed: dict[str, set[int]] = field(default_factory=dict)
    """Chapter to the numbers printed atop its first page (``printed_chapters``), where its bookmark gives none."""

    @classmethod
    def of(cls, index: Index, sources: list[str] | None = None) -> Chapters:
        """The index's chapters, or those of ``sources`` (keys), from its sections' counts (which the stores keep
        without reading every payload; a source's, ``sections_of``), and the numbers printed on those whose bookmarks
        have none."""
        chapters = cls(printed=printed_chapters(index))
        held = index.store.value_counts("section") if sources is None else sections_of(index, sources)
        for section in held:
            if section:
                chapters.add(section)
        return chapters

    def add(self, section: str) -> str:
        """Count ``section`` under its chapter, which it returns."""
        chapter = chapter_of(section)
        self.sections.setdefault(chapter, set()).add(section)
        return chapter

    def numbers(self, chapter: str) -> set[int]:
        """The numbers ``chapter`` is named by: its bookmark's ("4 The Tissue ..."), else those printed atop it."""
        number = CHAPTER_NUMBER.match(chapter)
        return {int(number.group(1))} if number else self.printed.get(chapter, set())

    def named(self, name: str) -> list[str]:
        """The chapters a reader names: one whole, those of a number ("12", "Chapter 12.", as bookmarked or printed;
        every book's chapter 12 in a library of several, which a source filter narrows) with or without a part of
        their title ("12 nervous"), or the one chapter a part of a title names ("nervous tissue"); none when none
        matches or a part of a title several chapters share."""
        if name in self.sections:
            return [name]
        wanted = spaced(name)
        if asked := ASKED_CHAPTER.fullmatch(wanted):
            number, words = int(asked.group(1)), asked.group(2) or ""
            if numbered := [c for c in self.sections if number in self.numbers(c) and words in spaced(c)]:
                return numbered
            if not words:  # a number alone is no part of a title ("1" of "10 ...")
                return []
        found = [c for c in self.sections if wanted and wanted in spaced(c)]
        return found if len(found) == 1 else []

    def ordered(self) -> list[str]:
        """The chapters in the book's order: numbered ones by number ("2 Cells" before "10 Muscle"), then the rest."""

        def order(chapter: str) -> tuple:
            numbers = self.numbers(chapter)
            return (0, min(numbers), chapter) if numbers else (1, chapter.lower(), chapter)

        return sorted(self.sections, key=order)

    def sections_under(self, names: list[str], index: Index, where: str = "") -> list[str]:
        """The sections under the chapters ``names``; a name no chapter (or several) matches is refused, listing these
        chapters, of the sources ``where`` names (``where_asked``) if any: the index holds the others' too."""
        named = [self.named(name) for name in names]
        if [] in named:
            chapters = self.ordered()
            listed = first_few(chapters, 5, "; ")
            raise UnknownSourceError(
                f"no chapter {quoted(names[named.index([])])} in {where}index {index.path} (or several match it); "
                f"give its number or a part of its title only it has; its chapters: {listed or 'none'}"
            )
        return sorted({section for chapters in named for chapter in chapters for section in self.sections[chapter]})


def sections_of(index: Index, sources: list[str]) -> set[str]:
    """The bookmark sections of ``sources``' pages (``sections_by_source``)."""
    by_source = sections_by_source(index)
    return {section for source in sources for section in by_source.get(source, ())}


@per_generation
def sections_by_source(index: Index) -> dict[str, set[str]]:
    """Each source's bookmark sections, read from its records once per generation: sections are counted for the whole
    index, and chapter and section filters beside a source filter name that source's. Its passages and figures too, not
    its pages alone: a page holds its last bookmark, so a chapter's heading above its first section on the same page
    is held by passages alone."""
    found: dict[str, set[str]] = {}
    for _, record in index.store.scan():
        if record.get("section"):
            found.setdefault(str(record.get("source")), set()).add(record["section"])
    return found


@per_generation
def figure_labels(index: Index) -> dict[str, dict[str, Any]]:
    """Each figure printed with a number (``label_key``): its label and the fields filters match, by id, read once per
    generation (0.6 s for a book of 720 figures), on the first search naming a figure."""
    kept = (*FILTER_FIELDS, "figure")
    figures = index.store.scan({"kind": "figure"})
    return {rid: {name: found.get(name) for name in kept} for rid, found in figures if label_key(found.get("figure"))}


def spaced(text: str) -> str:
    """``text`` as chapter names are compared: lower case, one space between words."""
    return " ".join(text.lower().split())


@per_generation
def printed_chapters(index: Index) -> dict[str, set[int]]:
    """Chapter to the numbers printed atop its first page in each book ("Chapter 1." over the demo primer's "Cervical
    Epithelium and HPV"), for chapters whose bookmarks give none: a reader names a chapter by the number printed. Only
    such chapters' pages are read, once per generation."""
    sections = [s for s in index.store.value_counts("section") if s and not CHAPTER_NUMBER.match(chapter_of(s))]
    first: dict[tuple[str, str], Payload] = {}
    for _, stored in index.store.scan({"kind": "page", "section": sections}) if sections else ():
        page = Payload.from_payload(stored)
        key = (page.source, chapter_of(page.section or ""))
        if key not in first or (page.page or 0) < (first[key].page or 0):
            first[key] = page
    numbers: dict[str, set[int]] = {}
    for (_, chapter), page in first.items():
        if printed := PRINTED_CHAPTER.match(page.text or ""):
            numbers.setdefault(chapter, set()).add(int(printed.group(1)))
    return numbers


@per_generation
def source_names(index: Index) -> dict[str, str]:
    """The names citations give the index's sources that share a file name (``distinct_names``), once per generation:
    two "notes.pdf" of two years' folders read "year1/notes.pdf" and "year2/notes.pdf"."""
    return distinct_names(index.manifest)


def keyed_record(index: Index, key: RecordKey) -> tuple[str, Payload] | None:
    """The id and payload of the record ``key`` names in ``index`` now, whatever id it had when the key was given;
    None where the index holds no such source, case image or page (removed since). The source is found by its id
    alone: resolved as any name is (``Index.resolve_source``), a removed folder's id found a folder named so."""
    manifest = index.manifest
    source = next((name for name, entry in manifest.items() if entry.get("id", source_id(name)) == key.source), None)
    if source is None:
        return None
    scanned = index.store.scan(key.filters(source))
    found = next(((record_id, stored) for record_id, stored in scanned if key.names(stored)), None)
    return None if found is None else (found[0], Payload.from_payload(found[1]))


EMPTY_QUERY = "empty query: give some text, an image, or both"


def unsearchable(text: str) -> str | None:
    """Why ``text`` cannot be searched on its own, in the words every door refuses it with (the command line, MCP,
    LangChain, REST's 422): blank, or no word to look for (``has_words``: stop words, single letters, punctuation);
    None when it can. REST refused "x" and "H&E" in other words (422) than "the of and" (400)."""
    shown = text.strip()
    if not shown:
        return EMPTY_QUERY
    if not has_words(shown):
        return (
            f"the query {shown[:60]!r} has only common words (stop words, single letters or punctuation): "
            "add a word to look for"
        )
    return None


PAGE_KINDS = frozenset({"page", "passage"})
"""The kinds that hold a page's text, whose records fold into their page's hit."""


def searches_pages(filters: Filters) -> bool:
    """Whether ``filters`` admit a page's text: no kind filter, or one naming a page or a passage."""
    kinds = filters.get("kind")
    return kinds is None or not PAGE_KINDS.isdisjoint(as_list(kinds))


def unpaged(payloads: Mapping[str, Payload]) -> dict[str, Payload]:
    """``payloads`` as a search that folds no page groups them (``Query.folds_pages``): without their pages, so each
    record is a group of its own (``fusion.page_key``), scored by the ranker on its own words and meaning."""
    return {record_id: replace(payload, page=None) for record_id, payload in payloads.items()}


@dataclass
class Query:
    text: str | None = None
    image: Image.Image | None = None
    k: int = 10
    filters: Filters = field(default_factory=dict)
    collapse_pages: bool = True
    use: tuple[str, ...] = RANKERS
    pages_per_section: int | None = None
    """None: the settings' ``pages_per_section``. The agent asks 0: its evidence answers more questions with the
    best section's next pages than with other sections' (BENCHMARKS.md)."""
    words_weight: float | None = None
    """How much an image query's words weigh beside the image, times their text-search weights; None: 1
    (``HELD_WORDS_WEIGHT``) where records hold every word (they come first, ``held_first``), else the settings'
    ``weight_words_image``. A question searched with all its options asks 1: its words list the alternatives the
    image must choose among, not what is sought (at 4 the one search of the image MCQ lost 7 of 128 answers)."""

    @property
    def folds_pages(self) -> bool:
        """Whether a page's records fold into one hit: where pages are collapsed and the kinds searched hold a page's
        text (``searches_pages``). A figure search asks for figures: each is a hit of its own, not an id in another's
        ``also_on_page`` (folded, "lung" would list Figure 3.1, never Figure 3.2 of the same page)."""
        return self.collapse_pages and searches_pages(self.filters)

    def validate(self) -> None:
        """Refuse in one line what could not be searched, or could only find nothing; the filters are checked here
        and resolved against the index by the ``Searcher`` (``resolve_filters``)."""
        if self.text is not None and not isinstance(self.text, str):
            raise BadInputError(f"text must be a string, not {type(self.text).__name__}")
        self.text = (self.text or "").strip() or None
        if self.text is None and self.image is None:
            raise BadInputError(EMPTY_QUERY)
        self.k = whole_number(self.k, "k", 1)
        if self.pages_per_section is not None:
            self.pages_per_section = whole_number(self.pages_per_section, "pages_per_section", 0)
        if self.words_weight is not None and not (
            isinstance(self.words_weight, numbers.Real) and 0 <= self.words_weight < float("inf")
        ):
            raise BadInputError(f"words_weight takes a number from 0 up, not {self.words_weight!r}")
        if not isinstance(self.use, tuple | list) or not self.use or any(r not in RANKERS for r in self.use):
            raise BadInputError(f"use takes a tuple of one or more of {', '.join(RANKERS)}, not {self.use!r}")
        if self.image is not None:
            check_image(self.image)
        check_filters(self.filters)
        if self.text is not None:
            check_unicode(self.text, "text")
        if self.text is not None and (problem := unsearchable(self.text)):
            if self.image is None:
                raise BadInputError(problem)
            self.text = None  # with an image, the image alone decides


@dataclass
class Found:
    """What one query found: its hits, and the words read in its image and searched (``query_ocr``; "" when
    none counted), so a user sees why a labelled diagram matched."""

    hits: list[Hit]
    image_words: str = ""

    def marked_words(self, text: str | None) -> str:
        """The words its hits' snippets mark (``hit_record``'s ``query``), as every door marks them: the query's
        ``text`` as searched (``Query.validate`` drops one beside an image that has no word to look for) and the words
        read in its image, which were searched too."""
        return " ".join(words for words in (text, self.image_words) if words)


AGREEMENT_DEPTH = 10
"""An image query's nearest candidates (fused, before the diagnosis vote) whose diagnoses ``with_agreement`` counts."""


def with_agreement(hits: list[Hit], nearest: list[Fused], payloads: Mapping[str, Payload]) -> None:
    """Each of an image query's hits with how many of its ``nearest`` candidates share its diagnosis
    (``diagnosis_key``; those without one count for none): a look-alike whose diagnosis few of its neighbours share
    is no evidence of it (BENCHMARKS.md)."""
    keys = (diagnosis_key(getattr(payloads.get(rid), "diagnosis", None)) for rid, _, _ in nearest)
    shared = Counter(key for key in keys if key is not None)
    for hit in hits:
        hit.agreeing = shared[diagnosis_key(hit.payload.diagnosis)]


def by_majority(
    head: list[Fused], payloads: Mapping[str, Payload], voters: int, holding: set[str] | frozenset[str] = frozenset()
) -> list[Fused]:
    """``head`` after its top ``voters`` vote on a diagnosis (``fusion.majority_next``); the hits moved up for sharing
    it say so in ``matched_by`` (``MAJORITY``, in their order). The vote never lifts a hit above one ``holding`` every
    word typed beside the image (``held_first``): the words ask for those, the neighbours' diagnosis does not."""
    order, agreeing = majority_next([getattr(payloads.get(rid), "diagnosis", None) for rid, _, _ in head], voters)
    if not agreeing:
        return head
    tags = {i: n for n, i in enumerate(agreeing, start=1)}
    voted = [(head[i][0], head[i][1], {**head[i][2], MAJORITY: tags[i]}) if i in tags else head[i] for i in order]
    return held_first(voted, holding)


def page_record(group: Group, payloads: Mapping[str, Payload]) -> str | None:
    """The id of a page group's page record: its member, else its passages' page; None for a group of figures alone
    (a figure's payload names no page record) or of a record without a page (a case image)."""
    kinds = [(member, payloads[member]) for member in group.members]
    page = next((member for member, payload in kinds if payload.kind == "page"), None)
    return page or next((payload.page_id for _, payload in kinds if payload.kind == "passage"), None)


def page_words(page: tuple[str, Payload] | None) -> str | None:
    """A page record's text: a page printed twice (a handout's cover, a slide shown again, a partial every deck of a
    course includes) reads the same, character for character, in its source or another. None for a page without
    words, which is never one: blank and scanned pages differ by their pictures."""
    return page[1].text if page and page[1].text.strip() else None


def split_copies(
    copies: list[int], groups: Sequence[Group], payloads: Mapping[str, Payload]
) -> tuple[int, list[int], list[int]]:
    """A page's copies (positions in ``groups``, placed best first: ``_repeats_folded``) as its hit names them: the one
    it shows, the first page of the source of the copy placed best (a handout's cover, not its repeat on p. 4); that
    source's other pages (``Hit.repeated_on``); and the copies in other sources, by source and page
    (``Hit.repeated_in``). The source placed best, not the first by name: what differs between decks including one
    partial (their titles, the slides around it) is what the ranker weighed, and the hit's score and place are that
    copy's."""
    source = payloads[groups[copies[0]].members[0]].source
    own = sorted((i for i in copies if payloads[groups[i].members[0]].source == source), key=lambda i: groups[i].key)
    elsewhere = sorted((i for i in copies if i not in own), key=lambda i: groups[i].key)
    return own[0], own[1:], elsewhere


def page_citation(payload: Payload, name: str | None) -> Citation:
    """The citation of the page a record lies on (``Hit.repeated_in``): its source and page, not its box or figure."""
    return replace(Citation.of(payload, name), figure=None, bbox=None)


def with_passages(filters: Filters) -> Filters:
    """Filters as the stores apply them: a page's text lives in its passages, so ``kind=page`` takes them too."""
    kinds = filters.get("kind")
    if kinds is None:
        return filters
    kinds = list(kinds) if isinstance(kinds, list | tuple | set) else [kinds]
    return {**filters, "kind": [*kinds, "passage"]} if "page" in kinds and "passage" not in kinds else filters


def beside(name: str, *work: Callable[[], T]) -> list[Future[T]]:
    """``work`` run in order on a thread of its own, started now, so it overlaps what the caller does next (the
    vector search); the thread ends with the work."""
    pool = ThreadPoolExecutor(1, thread_name_prefix=name)
    futures = [pool.submit(item) for item in work]
    pool.shutdown(wait=False)
    return futures


def ranker_weight(ranker: str, weights: dict[str, float]) -> float:
    """Rankers are named ``bm25`` or ``<space>`` / ``<space>:image``; the weight is the ranker's own, else its
    space's."""
    return weights.get(ranker, weights.get(ranker.split(":")[0], 1.0))


def with_words_beside_image(
    weights: dict[str, float], rankings: Mapping[str, ScoredIds], factor: float
) -> dict[str, float]:
    """``weights`` with the words' rankers (those named without ``:image``: BM25 and the text query's spaces) times
    ``factor`` where the rankings are an image query's with words: beside the image's five, a weight of 2 let the
    image decide alone what words asked for ("like this, but squamous" found adenocarcinomas)."""
    if not any(r.endswith(":image") for r in rankings):
        return weights
    words = [r for r in rankings if ":" not in r and r != SPECIMEN]
    return {**weights, **{r: ranker_weight(r, weights) * factor for r in words}}


def with_relative(hits: list[Hit], pool: Sequence[float]) -> list[Hit]:
    """``hits`` with their scores relative to the first, against every candidate they were cut from (``pool``), each
    at most the one's above it: a hit placed lower than its score (a short search's records lacking a word, a
    section's second page) never reads as more relevant than those shown before it."""
    above = 1.0
    for hit, relative in zip(hits, relative_scores([hit.score for hit in hits], pool), strict=True):
        hit.relative = above = min(relative, above)
    return hits


def shown_as(hit: Hit) -> set[str | tuple[str, int]]:
    """What a hit shows: a page hit its page and the pages folded into it as its repeats, in its source and others (a
    deeper pool may name the same page by another of its records, a passage where the first named the page, or by
    another copy), any other hit itself."""
    if hit.kind != "page" or hit.citation.page is None:
        return {hit.id}
    copies = {(copy.source, copy.page) for copy in hit.repeated_in}
    return copies | {(hit.citation.source, page) for page in (hit.citation.page, *hit.repeated_on)}


def paged(hits: list[Hit], deeper: list[Hit], k: int) -> list[Hit]:
    """``hits`` followed by those of ``deeper`` (a deeper pool's hits of the same query) showing nothing they show
    (``shown_as``), up to ``k``, none reading as more relevant than the last of ``hits``: what a search found first
    keeps its places."""
    shown = set().union(*map(shown_as, hits))
    more = [hit for hit in deeper if shown_as(hit).isdisjoint(shown)][: max(k - len(hits), 0)]
    floor = hits[-1].relative if hits else 1.0
    for hit in more:
        hit.relative = floor = min(hit.relative, floor)
    return hits + more


def found_by_look(ranks: Mapping[str, int]) -> bool:
    """Whether an image query's look found a record (an image space, or the same-specimen check), not only the words
    printed in the image (``PRINTED``): such a figure is the picture asked about."""
    return any(r == SPECIMEN or (r.endswith(":image") and r != PRINTED) for r in ranks)


HELD_WORDS_WEIGHT = 1.0
"""The words' factor beside an image where records hold every word typed (``held_first`` shows those first): the
words have chosen what comes first and the image orders it; a larger factor let BM25 order it ("adenocarcinoma":
the atlas' short records before the lung tiles that look like the image). Every diagnosis fold of ``bench retrieval
--image-words --phrasing both`` chose 1 of 1, 2, 4, 8 with the words held first."""


def held_first(fused: list[Fused], holding: set[str]) -> list[Fused]:
    """``fused`` with the candidates holding every word typed beside an image (``Searcher.holding_all``: a short
    search's) first, each part in its fused order, as a text search places them (``all_words_first``): "like this, but
    squamous" shows squamous cases that look like the image before look-alikes the words do not name, a verified same
    specimen (``verified_first``) included: the words ask for something else. The diagnosis vote (``by_majority``)
    reorders each part on its own."""
    return sorted(fused, key=lambda hit: hit[0] not in holding) if holding else fused


def verified_first(fused: list[Fused]) -> list[Fused]:
    """``fused`` with the candidates the ``specimen`` ranker verified first, each part in its fused order: the same
    specimen is the image asked about, whatever the other weights add up to (three words a slide viewer printed, at
    ``bm25:image``'s 256, could put a textbook figure above the verified case at 100). Pinned, not out-weighed: no later
    weight can undo it. A ``specimen`` weight of 0 leaves that ranker out of the RRF, so nothing moves."""
    return sorted(fused, key=lambda hit: SPECIMEN not in hit[2])


def nominees(rankings: Iterable[ScoredIds], first: int) -> ScoredIds:
    """The ``first`` records of each ranking, each once, in the order the rankings give them (their scores kept)."""
    seen: dict[str, float] = {}
    for ranking in rankings:
        for record_id, score in ranking[:first]:
            seen.setdefault(record_id, score)
    return list(seen.items())


def tie_break(hit: tuple[str, float]) -> tuple[float, str]:
    """Equal scores rank by id, so every store (FAISS, Qdrant) gives the same order for the same index."""
    return (-round(hit[1], 5), hit[0])


class Searcher:
    def __init__(
        self,
        index: Index,
        ranker: Ranker | None = None,
        word_reader: WordReader | None = None,
        labels_first: bool = True,
        all_words_first: bool = True,
    ):
        self.index = index
        self.settings = index.settings if all_words_first else index.settings.model_copy(update={"all_words_first": 0})
        """The index's settings; ``all_words_first`` off, with every-word-first off (``holding_all``): ``bench
        retrieval``'s BM25 baselines search without it."""
        self.ranker = ranker if ranker is not None else Ranker.chosen(self.settings.ranker_file)
        self.labels_first = labels_first
        """Whether figures a text query names by label come first (``named_figures``); off, ``bench retrieval
        --labels`` measures what the rule adds."""
        if word_reader is not None:
            self.__dict__["word_reader"] = word_reader

    @cached_property
    def word_reader(self) -> WordReader:
        """Reads image queries' printed words; nothing it reads is cached (uploads stay the user's)."""
        engine = tesseract_engine("reading an image query's printed words", "PATHATLAS_QUERY_OCR")
        return TesseractReader(None, engine=engine)

    def checked(self, queries: list[Query]) -> None:
        """Each query validated, its filters as the stores take them (``resolve_filters``)."""
        for query in queries:
            query.validate()
            query.filters = resolve_filters(query.filters, self.index)

    def rankings(self, queries: list[Query]) -> list[dict[str, ScoredIds]]:
        """Every ranker's candidates for a batch of queries; encoders see one batch per modality."""
        self.checked(queries)
        return self._rankings(queries, self.settings.candidates)

    def _rankings(self, queries: list[Query], pool: int) -> list[dict[str, ScoredIds]]:
        """``rankings`` of queries already ``checked``, at most ``pool`` candidates from each ranker."""
        encoder = self.index.encoder
        results: list[dict[str, ScoredIds]] = [{} for _ in queries]

        texted = [i for i, q in enumerate(queries) if q.text]
        imaged = [i for i, q in enumerate(queries) if q.image is not None]
        bm25 = {i: queries[i].text for i in texted if "bm25" in queries[i].use}
        self._bm25(queries, bm25, results, "bm25", False, pool)
        dense_text = [i for i in texted if "dense" in queries[i].use]
        if dense_text and encoder.text_spaces:
            texts = [queries[i].text for i in dense_text]  # checked as the protocol promises (``plugins.encoded``)
            vectors = encoded(self.index.meta.encoder, encoder.encode_query, texts, encoder.text_spaces, encoder.dims)
            self._dense(queries, results, dense_text, vectors, "", pool)
        dense_image = [i for i in imaged if "dense" in queries[i].use]
        if dense_image:
            if not encoder.image_spaces:
                raise BadInputError(f"encoder {encoder.name!r} cannot search by image")
            self._dense_images(queries, results, dense_image, pool)
        weights = self.settings.fusion_weights()  # a ranker weighted 0 is off: for search, the agent and the benches
        return [
            {r: ranking for r, ranking in found.items() if r == TRIMMED or ranker_weight(r, weights) > 0}
            for found in results
        ]

    def _bm25(
        self,
        queries: list[Query],
        texts: dict[int, str],
        results: list[dict[str, ScoredIds]],
        ranker: str,
        printed_words: bool,
        pool: int,
    ) -> None:
        """BM25 for the queries at ``texts``' positions, one batch per filter set. Figures' printed words are a
        field of their own, read with ``printed_words`` (an image's own words) and by figure searches; text queries
        would rank pages differently with them (BENCHMARKS.md)."""
        positions = list(texts)
        for group in group_by_filters([queries[i].filters for i in positions]):
            filters, batch = queries[positions[group[0]]].filters, [texts[positions[j]] for j in group]
            found = self.index.lexical.search(batch, pool, filters)
            if printed_words or figures_only(filters):
                printed = self.index.printed_words().search(batch, pool, filters)
                found = [add_scores(a, b, pool) for a, b in zip(found, printed, strict=True)]
            for j, hits in zip(group, found, strict=True):
                results[positions[j]][ranker] = hits

    def _dense_images(self, queries: list[Query], results: list[dict[str, ScoredIds]], positions, pool: int) -> None:
        """The image queries at ``positions`` in each image space; for those with a uniform border
        (``border_trimmed``), the first records of their view without it too (``TRIMMED``), which only the
        same-specimen check may bring in: without it, a screenshot padded with a border loses its own image (rank 57
        with 40 px of white, none in 100 with a wide black one). Merged into the rankings by the better similarity, the
        view without the border would raise look-alikes of a screenshot's white margin (two image questions lost)."""
        encoder = self.index.encoder
        images = [queries[i].image for i in positions]
        trimmed = {k: cut for k, image in enumerate(images) if (cut := border_trimmed(image)) is not None}
        both = [*images, *trimmed.values()]
        vectors = encoded(self.index.meta.encoder, encoder.encode_image, both, encoder.image_spaces, encoder.dims)
        given = {space: matrix[: len(images)] for space, matrix in vectors.items()}
        self._dense(queries, results, positions, given, ":image", pool)
        if not trimmed:
            return
        cut = [positions[k] for k in trimmed]
        alternative: list[dict[str, ScoredIds]] = [{} for _ in queries]
        rest = {space: matrix[len(images) :] for space, matrix in vectors.items()}
        self._dense(queries, alternative, cut, rest, ":image", pool)
        for i in cut:
            results[i][TRIMMED] = nominees(alternative[i].values(), NOMINATED)

    def _dense(self, queries, results, positions, vectors, suffix: str, pool: int) -> None:
        searchable = self.index.encoder.image_spaces if suffix else self.index.encoder.text_query_spaces()
        for space, matrix in vectors.items():
            if space not in self.index.meta.dims or space not in searchable:
                continue
            for group in group_by_filters([queries[i].filters for i in positions]):  # rows of matrix
                filters = queries[positions[group[0]]].filters
                found = self.index.store.search(space, matrix[group], pool, filters)
                for row, hits in zip(group, found, strict=True):
                    results[positions[row]][space + suffix] = sorted(hits, key=tie_break)

    def search(self, query: Query) -> list[Hit]:
        return self.find_many([query])[0].hits

    def search_many(self, queries: list[Query]) -> list[list[Hit]]:
        return [found.hits for found in self.find_many(queries)]

    def find(self, query: Query) -> Found:
        return self.find_many([query])[0]

    def find_many(self, queries: list[Query]) -> list[Found]:
        """Each query's hits, and for an image query the words read in it (what a user wants told)."""
        self.checked(queries)  # before the image work starts on threads of its own
        taken = self._keypoints_beside_search(queries)
        reading = self._words_beside_search(queries)
        pool = self.settings.candidates
        rankings = self._rankings(queries, pool)
        printed = reading.result() if reading is not None else {}
        self._bm25(queries, {n: words for n, words in printed.items() if words}, rankings, PRINTED, True, pool)
        out = []
        for n, (query, ranked) in enumerate(zip(queries, rankings, strict=True)):
            words = printed.get(n, "")
            specimen_of = (lambda future=taken[n]: future.result()[0]) if n in taken else None
            out.append(Found(self._deep_hits(query, ranked, words, specimen_of), words))
        return out

    def _deep_hits(
        self,
        query: Query,
        ranked: dict[str, ScoredIds],
        words: str,
        specimen_of: Callable[[], Keypoints | None] | None,
    ) -> list[Hit]:
        """The hits of ``ranked``, each ranker's first ``candidates``; where they fold into fewer than ``k`` hits (many
        passages of few pages) while a ranker gave all it was asked for, the hits of ``DEEPER`` times as many, until
        ``k`` or every ranker gave all it has ("bone" at k 100 would give 83 of the book's 269 pages). A search whose
        first candidates give its k hits (the usual k) is ranked from them alone. The deeper hits only follow those
        already found, so a larger k never reorders a smaller one's hits (``paged``): ranked afresh from the deeper
        pool, "bone"'s ninth hit at k 10 would be no hit at all at k 100, as more sections' first pages would come
        first."""
        pool = self.settings.candidates
        marked = query_terms(query.text or words)  # read once for the snippets of every pool's hits
        hits = self._hits_of(query, ranked, words, marked, specimen_of, pool)
        while len(hits) < query.k and any(len(found) >= pool for found in ranked.values()):
            pool *= DEEPER
            ranked = self._rankings([query], pool)[0]
            self._bm25([query], {0: words} if words else {}, [ranked], PRINTED, True, pool)
            hits = paged(hits, self._hits_of(query, ranked, words, marked, specimen_of, pool), query.k)
        return hits

    def _hits_of(
        self,
        query: Query,
        ranked: dict[str, ScoredIds],
        words: str,
        marked: list[str],
        specimen_of: Callable[[], Keypoints | None] | None,
        pool: int,
    ) -> list[Hit]:
        """A text query's page hits (``_page_hits``), else the fused hits (``_hits``) of its rankers' candidates, their
        snippets opening at the words ``marked`` (``marks.query_terms`` of its text, else of its image's ``words``)."""
        if query.image is None and query.collapse_pages:
            return self._page_hits(query, ranked, pool, marked)
        holding = self.held_beside_image(query, ranked)
        words_weight = query.words_weight
        if words_weight is None:
            words_weight = HELD_WORDS_WEIGHT if holding else self.settings.weight_words_image
        fused = held_first(self.fuse(ranked, specimen_of, words_weight), holding)
        return self._hits(query, fused, marked, holding)

    def held_beside_image(self, query: Query, ranked: Mapping[str, ScoredIds]) -> set[str]:
        """The records holding every word typed beside an image (a short search's, ``holding_all``): all of them, not
        BM25's best few, which of 300 tiles labelled alike are the first ids. None for a query without an image or
        without words."""
        if query.image is None or not query.text or "bm25" not in ranked:
            return set()
        return self.holding_all(query, len(self.index.lexical))

    def _words_beside_search(self, queries: list[Query]) -> Future | None:
        """Image queries' printed words ({position: words}), read on a thread while the vector search runs
        (tesseract: about 0.07 s an image in the process, 0.2 s as a program); None when ``query_ocr`` is off or
        no query asks BM25."""
        imaged = [n for n, q in enumerate(queries) if q.image is not None and "bm25" in q.use]
        if not imaged or not self.settings.query_ocr:
            return None
        reader = self.word_reader  # made here: a missing tesseract is the caller's error, not the thread's
        images = [queries[n].image for n in imaged]
        return beside("pathatlas-ocr", lambda: dict(zip(imaged, query_words(reader, images), strict=True)))[0]

    def _keypoints_beside_search(self, queries: list[Query]) -> dict[int, Future]:
        """Image queries' own keypoints (0.13 s of SIFT each), started on a thread so they are taken while the
        dense search runs, not after it; only when the index holds keypoints to check them against."""
        imaged = [n for n, q in enumerate(queries) if q.image is not None]
        if not imaged or not self.settings.verify_depth or not self.index.has_keypoints():
            return {}
        work = [lambda image=queries[n].image: keypoints([image]) for n in imaged]
        return dict(zip(imaged, beside("pathatlas-keypoints", *work), strict=True))

    def fuse(
        self,
        rankings: dict[str, ScoredIds],
        query_keypoints: Callable[[], Keypoints | None] | None = None,
        words_weight: float = 1.0,
    ) -> list[Fused]:
        """Weighted RRF. With ``query_keypoints`` (an image query's, asked for only when some of the top
        ``verify_depth`` candidates have stored keypoints), candidates verified as the same specimen join as the
        ``specimen`` ranker (retrieval/local.py) and come first (``verified_first``); the candidates are the fused
        ones and those the query's view without its border found (``TRIMMED``), which rank nothing themselves.
        ``words_weight``: an image query's words' weights times this (``with_words_beside_image``)."""
        weights, k = self.settings.fusion_weights(), self.settings.rrf_k
        nominated = [rid for rid, _ in rankings.get(TRIMMED, [])]
        rankings = {r: ranking for r, ranking in rankings.items() if r != TRIMMED}
        weights = with_words_beside_image(weights, rankings, words_weight)
        fused = reciprocal_rank_fusion(rankings, {r: ranker_weight(r, weights) for r in rankings}, k=k)
        if query_keypoints is None or not self.settings.verify_depth:
            return fused
        candidates = dict.fromkeys([*(rid for rid, _, _ in fused[: self.settings.verify_depth]), *nominated])
        stored = {rid: found for rid in candidates if (found := self.index.keypoints(rid)) is not None}
        query = query_keypoints() if stored else None
        if query is None:
            return fused
        counts = dict(zip(stored, inliers(query, list(stored.values())), strict=True))
        specimen = same_specimen(counts, self.settings.verify_inliers)
        if not specimen:
            return fused
        rankings = {**rankings, SPECIMEN: specimen}
        return verified_first(reciprocal_rank_fusion(rankings, {r: ranker_weight(r, weights) for r in rankings}, k=k))

    def _page_hits(self, query: Query, rankings: dict[str, ScoredIds], pool: int, marked: list[str]) -> list[Hit]:
        """Candidates grouped by page (each its own group where the search folds no page, ``Query.folds_pages``) and
        scored by the ranker; each hit shows its group's best member. Where words are searched, the figures the query
        names by label (``named_figures``) come first, shown by their groups' hits, and those holding every word of a
        short query next (``holding_all``); each section's best page comes before any section's next within each of
        these tiers (``sections_first``), not across them."""
        named = self.named_figures(query) if "bm25" in rankings else set()
        ids = list(dict.fromkeys([*(record_id for ranking in rankings.values() for record_id, _ in ranking), *named]))
        payloads = Payload.from_payloads(self.index.store.payloads(ids))
        dense = [r for r in rankings if r != "bm25"]
        coverage = self.coverage(query.text, payloads) if self.ranker.weights.get("coverage") else {}
        grouped = payloads if query.folds_pages else unpaged(payloads)
        groups, features = group_features(rankings, grouped, dense, coverage, sorted(named))
        if "bm25" in rankings and dense:
            ranker = self.ranker
        else:
            ranker = Ranker({"bm25": 1.0} if "bm25" in rankings else dict(DENSE_ONLY))
        holding = self.holding_all(query, pool) if "bm25" in rankings else set()  # words off: by meaning alone
        scores = ranker.score(features)  # what a hit's score and relevance say; ``placed_first`` only orders
        tiers = [(not named.isdisjoint(group.members), not holding.isdisjoint(group.members)) for group in groups]
        placed = all_words_first(scores, [holds for _, holds in tiers])
        placed = placed_first(placed, [asked for asked, _ in tiers])
        order = sorted(range(len(groups)), key=lambda i: -placed[i])
        per_section = self.settings.pages_per_section if query.pages_per_section is None else query.pages_per_section
        if per_section:
            sections = [section_of(payloads[shown_member(groups[i], payloads, named)]) for i in order]
            order = [order[j] for j in sections_first(sections, per_section, [tiers[i] for i in order])]
        ranks = {r: {i: n for n, (i, _) in enumerate(ranking, start=1)} for r, ranking in rankings.items()}
        shown_named = [member for i in order for member in groups[i].members if member in named]
        ranks[LABEL] = {record_id: n for n, record_id in enumerate(shown_named, start=1)}
        hits = [
            self._group_hit(copies, groups, float(scores[copies[0]]), payloads, ranks, marked, named)
            for copies in self._repeats_folded(order, groups, payloads, query.k)
        ]
        return with_relative(hits, scores.tolist())

    def named_figures(self, query: Query) -> set[str]:
        """The figures a text query names by their label (``figure_labels.named_figures``) among those its filters
        admit, found whatever their words: a text search puts them first. Labels are read only for a query naming
        one (``figure_labels``)."""
        if not self.labels_first or not query.text or not named_labels(query.text):
            return set()
        admitted = {rid: held for rid, held in figure_labels(self.index).items() if matches(held, query.filters)}
        return named_figures(query.text, {rid: held["figure"] for rid, held in admitted.items()})

    def _repeats_folded(
        self, order: list[int], groups: list[Group], payloads: Mapping[str, Payload], k: int
    ) -> list[list[int]]:
        """The first ``k`` groups of ``order`` (positions in ``groups``) that repeat no page placed before them, each
        with every later candidate repeating it, in this source or another (``page_words``, ``same_look``): a handout
        printing its cover twice would give two hits of one text from one file, and a partial every deck of a course
        includes a hit of each deck, pushing other pages out of the list."""
        found = zip(order, self._pages_of([groups[i] for i in order], payloads), strict=True)
        pages = {i: page for i, page in found if page is not None}
        kept: list[list[int]] = []
        by_words: dict[str, list[list[int]]] = {}  # the kept pages' copies, by their words
        for i in order:
            words = page_words(pages.get(i))
            placed = by_words.get(words, []) if words else []
            copies = next((copies for copies in placed if self.same_look(pages[copies[0]][0], pages[i][0])), None)
            if copies is not None:
                copies.append(i)
            elif len(kept) < k:
                kept.append([i])
                if words:
                    by_words.setdefault(words, []).append(kept[-1])
        return kept

    def _pages_of(self, groups: list[Group], payloads: Mapping[str, Payload]) -> list[tuple[str, Payload] | None]:
        """Each group's page record (id and payload; ``page_record``), read from the store where no candidate was it;
        None for a group without one."""
        ids = [page_record(group, payloads) for group in groups]
        missing = [record_id for record_id in ids if record_id is not None and record_id not in payloads]
        read = Payload.from_payloads(self.index.store.payloads(missing)) if missing else {}
        found = {**read, **payloads}
        return [(record_id, found[record_id]) if record_id in found else None for record_id in ids]

    def same_look(self, page_id: str, other_id: str) -> bool:
        """Whether two pages of the same words (``page_words``) look the same too: their rendered thumbnails' bytes,
        so slides of one title over different pictures stay apart."""
        paths = map(self.index.thumbnail_path, (page_id, other_id))
        look, other_look = (path.read_bytes() if path.is_file() else None for path in paths)
        return look == other_look

    def holding_all(self, query: Query, pool: int) -> set[str]:
        """The ``pool`` best candidates holding every word of a short query (``Settings.all_words_first``); none for a
        longer one, nor for one with a word that is no term (``every_word_a_term``: "T-cell receptor" would lift every
        page holding "cell" and "receptor")."""
        if not 0 < len(content_terms(query.text)) <= self.settings.all_words_first or not every_word_a_term(query.text):
            return set()
        return self.index.lexical.holding_all(query.text, pool, query.filters)

    @staticmethod
    def coverage(text: str, payloads: dict[str, Payload]) -> dict[str, float]:
        """Share of the query's terms in each candidate's text (a ranker feature)."""
        terms = set(tokenize([text])[0])
        ids = list(payloads)
        tokens = tokenize([payloads[i].text for i in ids]) if terms and ids else []
        return {i: term_coverage(terms, tok) for i, tok in zip(ids, tokens, strict=True)} if tokens else {}

    def _group_hit(
        self,
        copies: list[int],
        groups: list[Group],
        score: float,
        payloads: dict[str, Payload],
        ranks: dict[str, dict[str, int]],
        marked: list[str],
        named: Collection[str] = frozenset(),
    ) -> Hit:
        """A text query's page group (``_page_hits``) as one hit, with the best rank each ranker gave any member; of a
        page printed more than once (``copies``, positions in ``groups``: ``_repeats_folded``), the hit of the copy
        ``split_copies`` shows, naming the others (``_with_copies``); a figure the query ``named`` where the page holds
        one (``shown_member``)."""
        first, own, elsewhere = split_copies(copies, groups, payloads)
        # what found the page counts, whichever record of it: a passage by words, the page vector by meaning, a
        # figure's caption on it (its hit shows the best passage; the figure is among ``also_on_page``)
        members = [member for i in copies for member in groups[i].members]
        found = {r: [by_id[m] for m in members if m in by_id] for r, by_id in ranks.items()}
        matched = {r: min(at) for r, at in found.items() if at}
        shown = groups[first]
        hit = self._page_hit(shown_member(shown, payloads, named), score, matched, shown.members, payloads, marked)
        return self._with_copies(hit, [groups[i] for i in own], [groups[i] for i in elsewhere], payloads)

    def _with_copies(self, hit: Hit, own: list[Group], elsewhere: list[Group], payloads: Mapping[str, Payload]) -> Hit:
        """``hit`` naming the other copies of its page (``split_copies``): the pages of its source (``repeated_on``),
        and those of other sources, each cited by its page (``repeated_in``, ``page_citation``)."""
        names = source_names(self.index)
        copies = [payloads[group.members[0]] for group in elsewhere]
        hit.repeated_on = [payloads[group.members[0]].page for group in own]
        hit.repeated_in = [page_citation(copy, names.get(copy.source)) for copy in copies]
        return hit

    def _page_hit(
        self,
        shown: str,
        score: float,
        ranks: dict[str, int],
        members: list[str],
        payloads: Mapping[str, Payload],
        marked: list[str],
        as_page: bool = True,
    ) -> Hit:
        """The hit of a page's ``members`` showing ``shown`` (as its page's hit where it is a passage and
        ``as_page``), with the other members in ``also_on_page``."""
        hit = self.make_hit(shown, score, ranks, payloads[shown], marked)
        if as_page:
            hit = self._as_page(hit, payloads[shown])
        hit.also_on_page = [m for m in members if m not in (shown, hit.id)]  # a passage's hit is its page's id
        return hit

    def _as_page(self, hit: Hit, payload: Payload) -> Hit:
        """A passage is shown as its page's hit that cites the passage."""
        if payload.kind == "passage":
            hit.id, hit.kind, hit.passage = payload.page_id or hit.id, "page", hit.id
            thumb = self.index.thumbnail_path(hit.id)
            hit.thumbnail = str(thumb) if thumb.is_file() else None
        return hit

    def _hits(
        self, query: Query, fused: list[Fused], marked: list[str], holding: set[str] | frozenset[str] = frozenset()
    ) -> list[Hit]:
        """Fused hits, at most one per page where pages fold (``Query.folds_pages``; a passage then shows as its page)
        and one per page printed again (``_repeats_folded``: an image matching a deck's repeated slide would give a hit
        of each); each snippet opens at the words ``marked`` (the query's, or its image's words). An image query's hits
        are read deep enough for the diagnosis vote (``by_majority``), which needs their payloads, and each hit says how
        many of the nearest share its diagnosis (``with_agreement``) and keeps the records ``holding`` the words typed
        beside the image first. A page's hit keeps its best record's place and says every ranker that found a record of
        it; it shows a figure the query image itself found (``found_by_look``), whose citation a user wants, even when
        the image's printed words placed a passage of that page first."""
        folds = query.folds_pages
        depth = query.k * 8 if folds else query.k
        voters = self.settings.diagnosis_vote if query.image is not None else 0
        head = fused[: max(depth, MAJORITY_KEEP + MAJORITY_WINDOW) if voters else depth]
        nearest = fused[:AGREEMENT_DEPTH] if query.image is not None else []
        ids = dict.fromkeys(record_id for record_id, _, _ in head + nearest)
        payloads = Payload.from_payloads(self.index.store.payloads(list(ids)))
        if voters:
            head = by_majority(head, payloads, voters, holding)
        groups: dict[tuple[str, int] | str, list[Fused]] = {}
        for found in head:  # every page of the head: copies of a page fold into one below (``_repeats_folded``)
            if (payload := payloads.get(found[0])) is not None:
                key = (page_key(payload) if folds else None) or found[0]
                groups.setdefault(key, []).append(found)  # a page's later records join it
        members = list(groups.values())
        paged = [Group(key, [rid for rid, _, _ in found]) for key, found in groups.items()]
        if folds:
            folded = self._repeats_folded(list(range(len(paged))), paged, payloads, query.k)
        else:  # every record, as asked
            folded = [[i] for i in range(min(len(paged), query.k))]
        hits = []
        for copies in folded:
            first, own, elsewhere = split_copies(copies, paged, payloads)
            hit = self._merged_hit(members[first], payloads, marked, query, [members[i] for i in [*own, *elsewhere]])
            hits.append(self._with_copies(hit, [paged[i] for i in own], [paged[i] for i in elsewhere], payloads))
        if query.image is not None:
            with_agreement(hits, nearest, payloads)
        return with_relative(hits, [score for _, score, _ in fused])

    def _merged_hit(
        self,
        members: list[Fused],
        payloads: Mapping[str, Payload],
        marked: list[str],
        query: Query,
        copies: Sequence[list[Fused]] = (),
    ) -> Hit:
        """One page's hit (or a record's, uncollapsed or without a page): its best record's score, the best rank each
        ranker gave any of its records, and the record it shows: the best, or a figure the query image's look found
        (``found_by_look``; only image queries have such ranks). Of a page printed again (``copies``: the records of
        its other pages, ``_repeats_folded``), what found any copy found the page."""
        shown = next((m for m, _, r in members if payloads[m].kind == "figure" and found_by_look(r)), members[0][0])
        ranks: dict[str, int] = {}
        for _, _, found in (member for page in (members, *copies) for member in page):
            ranks.update({r: min(rank, ranks.get(r, rank)) for r, rank in found.items()})
        ids = [m for m, _, _ in members]
        best = max(page[0][1] for page in (members, *copies))
        return self._page_hit(shown, best, ranks, ids, payloads, marked, query.folds_pages)

    def make_hit(
        self, record_id: str, score: float, ranks: dict[str, int], payload: Payload, marked: list[str] | None
    ) -> Hit:
        """The hit of a record, its snippet made when first read (``Hit.snippet``) around the words a query ``marked``
        (``marks.query_terms``; None: a record shown on its own, from its start)."""
        thumb = self.index.thumbnail_path(record_id)
        return Hit(
            id=record_id,
            score=score,
            kind=payload.kind,
            snippet=partial(marked_snippet, payload.body, marked or []),
            citation=Citation.of(payload, source_names(self.index).get(payload.source)),
            thumbnail=str(thumb) if thumb.is_file() else None,
            payload=payload,
            matched_by=ranks,
        )
