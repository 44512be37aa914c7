"""Facets: the values of each filterable field the index holds, with counts, for filter menus and the library.

Sources are counted by id (``source_id``) with their file name to show (``names``): never by server path.
A chapter is not stored on its own: it is the first level of a page's bookmark path (``section``) that reads
like a chapter ("4 The Tissue Level of Organization", "Chapter 4 ..."), so a chapter filter expands to the
sections under it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pathatlas.errors import PathAtlasError
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Payload, display_name, source_id

FACET_FIELDS = ("kind", "source", "organ", "diagnosis", "chapter", "section")
CHAPTER = re.compile(r"^(chapter\b|\d+\s)", re.IGNORECASE)
CHAPTER_NUMBER = re.compile(r"(?:chapter\s*)?(\d+)\b", re.IGNORECASE)


def chapter_of(section: str) -> str:
    """The chapter level of a bookmark path: its first part that reads like a chapter, else its first part."""
    parts = [p.strip() for p in section.split(" > ") if p.strip()]
    return next((p for p in parts if CHAPTER.match(p)), parts[0] if parts else "")


@dataclass
class Facets:
    index: Index
    values: dict[str, Counter] = field(default_factory=dict)
    """Field to value to the number of records with it."""
    by_source: dict[str, Counter] = field(default_factory=dict)
    """Source id to kind to count."""
    names: dict[str, str] = field(default_factory=dict)
    """Source id to its display name."""
    sections: dict[str, set[str]] = field(default_factory=dict)
    """Chapter to the sections under it."""

    def expand(self, filters: dict[str, Any]) -> dict[str, Any]:
        """Filters the stores understand: a source (id, name or path) becomes its key, ``chapter`` the list of
        its sections."""
        if "source" in filters:
            wanted = filters["source"] if isinstance(filters["source"], list) else [filters["source"]]
            filters = {**filters, "source": [self.source_key(s) for s in wanted]}
        if "chapter" not in filters:
            return filters
        chapters = filters["chapter"] if isinstance(filters["chapter"], list) else [filters["chapter"]]
        named = [self.chapter_named(str(c)) for c in chapters]
        sections = sorted({s for c in named if c for s in self.sections[c]}) or ["\x00no such chapter"]
        rest = {k: v for k, v in filters.items() if k != "chapter"}
        if "section" in rest:  # both given: the sections asked for that lie in the chapters
            asked = rest["section"] if isinstance(rest["section"], list) else [rest["section"]]
            sections = [s for s in asked if s in sections] or ["\x00no such section"]
        return {**rest, "section": sections}

    def chapter_named(self, name: str) -> str | None:
        """A chapter as a reader names it: whole, by its number ("12", "Chapter 12") or by a part of its title only
        one chapter has ("nervous tissue"); None when none or several match."""
        if name in self.sections:
            return name
        wanted = " ".join(name.lower().split())
        number = CHAPTER_NUMBER.fullmatch(wanted)
        if number:
            found = [c for c in self.sections if (m := CHAPTER_NUMBER.match(c)) and m.group(1) == number.group(1)]
        else:
            found = [c for c in self.sections if wanted and wanted in " ".join(c.lower().split())]
        return found[0] if len(found) == 1 else None

    def chapters(self) -> list[str]:
        """The chapters in the book's order: numbered ones by number ("2 Cells" before "10 Muscle"), then the rest."""

        def order(chapter: str) -> tuple:
            number = CHAPTER_NUMBER.match(chapter)
            return (0, int(number.group(1)), chapter) if number else (1, chapter.lower(), chapter)

        return sorted(self.sections, key=order)

    def source_key(self, name: str) -> str:
        try:
            return self.index.resolve_source(name)
        except PathAtlasError:  # unknown or ambiguous: it matches nothing
            return name


def count_facets(index: Index) -> Facets:
    facets = Facets(index, {name: Counter() for name in FACET_FIELDS})
    for _, stored in index.store.scan():
        record = Payload.from_payload(stored)
        source = source_id(record.source)
        facets.names.setdefault(source, display_name(record.source))
        facets.by_source.setdefault(source, Counter())[record.kind] += 1
        for name, value in (("kind", record.kind), ("source", source), ("organ", record.organ),
                            ("diagnosis", record.diagnosis), ("section", record.section)):  # fmt: skip
            for item in value if isinstance(value, list) else [value]:  # a case of two organs counts under each
                if item:
                    facets.values[name][item] += 1
        if record.section:
            chapter = chapter_of(record.section)
            facets.values["chapter"][chapter] += 1
            facets.sections.setdefault(chapter, set()).add(record.section)
    return facets
