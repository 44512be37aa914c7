"""A page hit names the section its snippet is printed in: a page is filed under its last section
(``PageSections.last``), so a hit quoting the page's top, above where a new section begins, would show the next
section's heading on its card were it to name its page's. Hashing encoder: no model is the point."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pathatlas.indexer.records import Page, Passage, Record
from pathatlas.indexer.sources.base import Source, hash_files
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.ui.hits import hit_record
from tests.helpers import hashing_settings, index_new

TOP, LOWER = "Bone tissue", "Cartilage"
PASSAGES = {  # section: (its passage's text, where it is printed)
    TOP: ("Periosteum covers the bone; osteoblasts lay down osteoid under it.", (30.0, 50.0, 370.0, 120.0)),
    LOWER: ("Chondrocytes sit in lacunae within the hyaline cartilage matrix.", (30.0, 220.0, 370.0, 300.0)),
}


class TwoSectionPage(Source):
    """A ``*.page`` file read as one book page on which ``LOWER`` begins below ``TOP``'s passage: the page filed under
    its last section, as the PDF reader files it, each passage under the section it is printed in."""

    kind = "page"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.suffix == ".page"

    def fingerprint(self) -> str:
        return hash_files([self.path], self.reading(), self.records_version)

    def size_hint(self) -> int:
        return 1

    def records(self) -> Iterator[Record]:
        fingerprint = self.fingerprint()
        text = "\n".join(words for words, _ in PASSAGES.values())
        yield Page(self.key, fingerprint, 1, text, image=None, book="Histology", section=LOWER)
        for index, (section, (words, box)) in enumerate(PASSAGES.items()):
            yield Passage(self.key, fingerprint, 1, index, words, box, [box], book="Histology", section=section)


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    """Settings of a new index holding ``TwoSectionPage``'s page."""
    root = tmp_path_factory.mktemp("page-sections")
    (root / "histology.page").write_text("one page, two sections")
    settings = hashing_settings(root, sources=[f"py:{__name__}.TwoSectionPage"])
    index_new(settings, root / "histology.page")
    return settings


def page_hit(settings, text: str, **filters: str):
    """The first hit of ``text`` (with ``filters``), which must be the page's, and its record as every door shows it."""
    with Index.open(settings.index_dir, settings) as index:
        hit = Searcher(index).search(Query(text=text, k=3, filters=filters))[0]
    assert (hit.kind, hit.citation.page) == ("page", 1)
    return hit, hit_record(hit, 1, text)


@pytest.mark.parametrize("section", [TOP, LOWER])
def test_a_page_hit_names_the_section_of_the_passage_it_quotes(settings, section):
    words, box = PASSAGES[section]
    hit, shown = page_hit(settings, words)
    assert hit.citation.bbox == box and words.split()[0] in hit.snippet  # that passage is quoted and outlined
    assert (shown["section"], shown["title"]) == (section, section)


def test_a_section_filter_finds_the_page_by_its_passage_and_names_that_section(settings):
    """The page itself is filed under ``LOWER``; its passage under ``TOP`` still finds it under a ``TOP`` filter."""
    hit, shown = page_hit(settings, PASSAGES[TOP][0], section=TOP)
    assert shown["section"] == TOP and hit.citation.bbox == PASSAGES[TOP][1]
