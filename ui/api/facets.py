"""Facets: the values of each filterable field the index holds, with counts, for filter menus and the library.

Sources are counted by id (``source_id``) with the name citations give them to show (``names``: "year2/notes.pdf"
beside "year1/notes.pdf", else the file name): never by server path.
A chapter is not stored on its own: it is the first level of a page's bookmark path (``section``) that reads
like a chapter (``retrieval.search.Chapters``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Payload, display_name, source_id
from pathatlas.retrieval.search import Chapters, source_names
from pathatlas.retrieval.stores.base import FOLDED_FIELDS, fold

FACET_FIELDS = ("kind", "source", "organ", "diagnosis", "chapter", "section")


@dataclass
class Facets:
    index: Index
    generation: int
    """The generation counted: an index written in place (``store=qdrant``) moves on under the same ``Index``."""
    values: dict[str, Counter] = field(default_factory=dict)
    """Field to value to the number of records with it."""
    by_source: dict[str, Counter] = field(default_factory=dict)
    """Source id to kind to count."""
    names: dict[str, str] = field(default_factory=dict)
    """Source id to the name citations give it (``source_names``), else its display name."""
    sections: dict[str, set[str]] = field(default_factory=dict)
    """Chapter to the sections under it (``Chapters``)."""

    def chapters(self) -> list[str]:
        return Chapters(self.sections).ordered()


def count_facets(index: Index) -> Facets:
    facets = Facets(index, index.generation.number, {name: Counter() for name in FACET_FIELDS})
    chapters, shared = Chapters(facets.sections), source_names(index)
    for _, stored in index.store.scan():
        record = Payload.from_payload(stored)
        source = source_id(record.source)
        facets.names.setdefault(source, shared.get(record.source, display_name(record.source)))
        facets.by_source.setdefault(source, Counter())[record.kind] += 1
        for name, value in (("kind", record.kind), ("source", source), ("organ", record.organ),
                            ("diagnosis", record.diagnosis), ("section", record.section)):  # fmt: skip
            for item in value if isinstance(value, list) else [value]:  # a case of two organs counts under each
                if item:
                    facets.values[name][item] += 1
        if record.section:
            facets.values["chapter"][chapters.add(record.section)] += 1
    for name in FOLDED_FIELDS & set(FACET_FIELDS):
        facets.values[name] = as_filtered(name, facets.values[name])
    return facets


def as_filtered(field: str, counts: Counter) -> Counter:
    """Values a filter takes as one (``fold``: "pulmón" and "Pulmón" for an organ) counted as one, shown in the
    spelling most records have (ties: the first in sorted order): a menu entry's count is what choosing it finds."""
    spellings: dict[object, list[tuple[str, int]]] = {}
    for value, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        spellings.setdefault(fold(field, value), []).append((value, count))
    return Counter({found[0][0]: sum(count for _, count in found) for found in spellings.values()})
