"""Results a student can use: a PDF printing one page twice (a handout repeating its cover, a deck a slide) gave two
identical hits from one file, pushing other pages down; a very tall page's thumbnail was a 16 x 384 grey line."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from pathatlas.indexer.pipeline import stored_thumbnail
from pathatlas.indexer.sources.pdf import render
from pathatlas.retrieval.images import thumbnail
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Citation, Entry, Hit, Payload
from pathatlas.retrieval.search import Query, Searcher
from tests.helpers import hashing_settings, index_new
from tests.indexer.test_incremental_cases import ENCODER as PIXELS

COVER = "Renal handout. Glomerulonephritis and nephrotic syndrome: podocyte effacement, minimal change disease."
NECROSIS = "Acute tubular necrosis follows ischemia; casts of tubular cells appear in the urine."
OTHER = "Minimal change disease shows podocyte foot process effacement in children with nephrotic syndrome."
QUERY = "podocyte effacement nephrotic syndrome"
ASIDES = [f"Lecture {n}: {topic}." for n, topic in enumerate(["hepatic steatosis", "cardiac myocytes", "osteoclasts"])]
"""Pages of other topics, so that the query's words are rare enough for BM25 to weigh."""


def pdf(path: Path, texts: list[str], colours: list[str | None] | None = None, size=(612, 792)) -> Path:
    """A PDF of one page per text, each with a square of its colour where ``colours`` gives one (a slide's picture)."""
    doc = pymupdf.open()
    for text, colour in zip(texts, colours or [None] * len(texts), strict=True):
        page = doc.new_page(width=size[0], height=size[1])
        page.insert_textbox(pymupdf.Rect(40, 150, size[0] - 40, 350), text, fontsize=11)  # below the margins
        if colour:
            page.draw_rect(pymupdf.Rect(100, 400, 400, 700), fill=pymupdf.utils.getColor(colour))
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path)
    return path


@contextmanager
def searcher(root: Path, sources: list[Path], **extra) -> Iterator[Searcher]:
    """A searcher of an index of ``sources`` (the hashing encoder: no model to load; ``extra`` settings)."""
    settings = hashing_settings(root, **extra)
    index_new(settings, *sources)
    index = Index.open(settings.index_dir, settings)
    try:
        yield Searcher(index)
    finally:
        index.close()


def searched(root: Path, sources: list[Path], text: str = QUERY, k: int = 10) -> list[Hit]:
    """The page hits of ``text`` in an index of ``sources``."""
    with searcher(root, sources) as found:
        return found.search(Query(text=text, k=k))


def cited(hits: list[Hit]) -> list[tuple[str, int | None, list[int]]]:
    return [(Path(hit.payload.source).name, hit.citation.page, hit.repeated_on) for hit in hits]


# -- 1. a page printed twice is one hit -------------------------------------------------------------------------------


def test_a_page_printed_again_is_one_hit_of_its_first_page_naming_the_others(tmp_path):
    """duplicate.pdf's cover on pages 1, 2 and 4 gave three hits; now page 1's, saying where it is repeated."""
    handout = pdf(tmp_path / "lib" / "duplicate.pdf", [COVER, COVER, NECROSIS, COVER])
    other = pdf(tmp_path / "lib" / "other.pdf", [OTHER, *ASIDES])
    with searcher(tmp_path, [handout, other]) as search:
        hits = search.search(Query(text=QUERY))
        words = search.rankings([Query(text=QUERY)])[0]["bm25"]  # the copies tie: their order follows their ids
        sources = {i: p["source"] for i, p in search.index.store.payloads([i for i, _ in words]).items()}
    best_copy = next(n for n, (i, _) in enumerate(words, start=1) if sources[i] == str(handout.resolve()))
    assert sorted(cited(hits)[:2]) == [("duplicate.pdf", 1, [2, 4]), ("other.pdf", 1, [])], "both covers first"
    assert sorted(page for name, page, _ in cited(hits) if name == "duplicate.pdf") == [1, 3], "no page shown twice"
    cover = next(hit for hit in hits if hit.repeated_on)
    assert cover.label() == "duplicate.pdf, p. 1 (repeated on p. 2, 4)" and cover.to_dict()["repeated_on"] == [2, 4]
    assert cover.matched_by["bm25"] == best_copy, "what found a copy found the page"


def test_k_hits_still_come_when_copies_fold_into_one(tmp_path):
    """Five copies of one slide among seven pages: k=3 gives three pages, the copies one of them."""
    deck = pdf(tmp_path / "lib" / "deck.pdf", [COVER] * 5 + [OTHER, f"{NECROSIS} Nephrotic syndrome aside."])
    hits = searched(tmp_path, [deck], k=3)
    assert sorted(cited(hits)) == [("deck.pdf", 1, [2, 3, 4, 5]), ("deck.pdf", 6, []), ("deck.pdf", 7, [])]


def test_pages_of_one_text_over_different_pictures_stay_apart(tmp_path):
    """A quiz deck's slides all read "Identify the tissue" over another picture each: different pages to a student."""
    quiz = pdf(tmp_path / "lib" / "quiz.pdf", ["Identify the tissue: glomerulus"] * 2, ["red", "blue"])
    hits = searched(tmp_path, [quiz], text="identify tissue glomerulus")
    assert sorted(cited(hits)) == [("quiz.pdf", 1, []), ("quiz.pdf", 2, [])]


def test_the_same_page_in_two_files_is_one_hit_citing_both(tmp_path):
    """Two files each printing the cover: one hit, naming the other file's page (``repeated_in``), as a reader may have
    either (session 42: a Quarto partial included by 12 decks filled a page of results with one slide)."""
    (hit,) = searched(tmp_path, [pdf(tmp_path / "lib" / "a.pdf", [COVER]), pdf(tmp_path / "lib" / "b.pdf", [COVER])])
    copies = [(Path(copy.source).name, copy.page) for copy in hit.repeated_in]
    assert sorted([(Path(hit.citation.source).name, hit.citation.page), *copies]) == [("a.pdf", 1), ("b.pdf", 1)]


@pytest.mark.parametrize("words", [QUERY, None], ids=["image and words", "image alone"])
def test_an_image_search_folds_a_page_printed_again_too(tmp_path, words):
    """An image matching a deck's repeated slide gave a hit of each copy (the fold was a search by words' alone);
    asked uncollapsed, every record still comes."""
    handout = pdf(tmp_path / "lib" / "duplicate.pdf", [COVER, COVER, NECROSIS, COVER])
    other = pdf(tmp_path / "lib" / "other.pdf", [OTHER, *ASIDES])
    image = Image.new("RGB", (64, 64), "white")
    with searcher(tmp_path, [handout, other], encoder=PIXELS) as search:
        hits = search.search(Query(text=words, image=image))
        every = search.search(Query(text=words, image=image, collapse_pages=False, k=20, filters={"kind": "page"}))
    assert sorted(page for name, page, _ in cited(hits) if name == "duplicate.pdf") == [1, 3], cited(hits)
    assert ("duplicate.pdf", 1, [2, 4]) in cited(hits)
    pages = [hit for hit in every if hit.kind == "page" and hit.payload.source == str(handout.resolve())]
    assert sorted(hit.citation.page for hit in pages) == [1, 2, 3, 4]


def test_a_repeated_page_of_a_book_with_printed_numbers_is_named_by_pdf_page():
    """The label's "p. 13" is the printed number; the repeats are PDF pages, and say so."""
    hit = Hit("p", 1.0, "page", "", Citation("/srv/notes.pdf", 2, page_label="13"), repeated_on=[3])
    assert hit.label() == "notes.pdf, p. 13 (PDF p. 2) (repeated on PDF p. 3)"


# -- 2. a very tall page's thumbnail shows its top --------------------------------------------------------------------


def stored(root: Path, source: Path) -> dict[int, Image.Image]:
    """Each page's stored thumbnail, by page number, once ``source`` is indexed."""
    settings = hashing_settings(root)
    index_new(settings, source)
    index = Index.open(settings.index_dir, settings)
    try:
        pages = index.store.scan({"kind": "page"})
        return {page["page"]: Image.open(index.thumbnail_path(record_id)) for record_id, page in pages}
    finally:
        index.close()


def test_a_very_tall_page_s_thumbnail_shows_its_top_at_a_readable_scale(tmp_path):
    """A 612 x 14400-point page shrunk whole was 16 x 384 pixels; its top is shown as an A4 page's would be."""
    tall = stored(tmp_path, pdf(tmp_path / "tall.pdf", [COVER], size=(612, 14400)))[1]
    width, height = tall.size
    assert height == 384 and width > 250, tall.size
    assert tall.convert("L").getextrema()[0] < 128, "it shows the page's first lines, not blank paper"


def test_an_ordinary_page_s_thumbnail_is_the_page_shrunk_whole_as_before(tmp_path):
    """A letter page and one 3 times as tall as wide keep their thumbnails, byte for byte."""
    for n, size in enumerate([(612, 792), (300, 900)]):
        source = pdf(tmp_path / f"p{n}.pdf", [COVER], size=size)
        rendered = render(pymupdf.open(source)[0], 40, 12_000_000)
        whole = thumbnail(Image.frombytes("RGB", (rendered.width, rendered.height), rendered.samples), 384)
        made = io.BytesIO()
        whole.save(made, "JPEG", quality=85)
        thumb = stored(tmp_path / f"i{n}", source)[1]
        assert thumb.fp.seek(0) == 0 and thumb.fp.read() == made.getvalue(), size


@pytest.mark.parametrize("kind", ["figure", "case"])
def test_a_tall_figure_or_case_image_is_shown_whole(kind):
    """A figure or a case image is the picture itself: a tall one is shrunk whole, not cut to its top."""
    image = Image.new("RGB", (100, 1000), "white")
    assert stored_thumbnail(Entry("x", Payload(kind=kind), thumbnail=image), 384).size == (38, 384)
    page = stored_thumbnail(Entry("x", Payload(kind="page"), thumbnail=image), 384)
    assert page.size == (100, 141), "a page as tall is cut to its top"


def test_the_doors_name_the_pages_repeating_a_hit(tmp_path):
    """The table, ``--json`` (as REST and MCP) and the web UI's card title say where the page is repeated: dropped by
    the serialiser, the folded copies were nowhere to be seen."""
    import json

    from pathatlas.retrieval.records import repeated_note
    from tests.helpers import run_cli

    handout = pdf(tmp_path / "lib" / "duplicate.pdf", [COVER, COVER, NECROSIS, COVER])
    assert run_cli("index", handout, "--index", tmp_path / "index", home=tmp_path / "home").exit_code == 0
    table = run_cli("search", QUERY, "--index", tmp_path / "index", home=tmp_path / "home")
    assert "duplicate.pdf, p. 1 (repeated on p. 2, 4)" in " ".join(table.output.split()), table.output
    found = run_cli("search", QUERY, "--index", tmp_path / "index", "--json", home=tmp_path / "home")
    first = json.loads(found.stdout)[0]
    assert first["citation"]["page"] == 1 and first["repeated_on"] == [2, 4]
    assert repeated_note(first["repeated_on"], bool(first["citation"].get("page_label"))) == " (repeated on p. 2, 4)"
