"""One hit for a page repeated in other sources: a Quarto partial every deck of a course includes (a disclaimer) gave
a hit of each deck, ten of ten; now the copy placed best, naming the others (``Hit.repeated_in``) in its label, its
JSON, the REST schema and the web UI's card, as a page its own source prints again is named (``repeated_on``).
Hashing encoder: no model is the point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from pathatlas.retrieval.fusion import Group
from pathatlas.retrieval.records import Citation, Hit, Payload
from pathatlas.retrieval.search import Query, paged, split_copies
from pathatlas.ui.api.schemas import HitOut
from pathatlas.ui.hits import hit_record
from pathatlas.ui.present import card_repeats
from tests.helpers import run_cli
from tests.indexer.test_incremental_cases import ENCODER as PIXELS
from tests.retrieval.test_repeated_pages_and_thumbnails import ASIDES, COVER, OTHER, QUERY, pdf, searcher

DISCLAIMER = "## Disclaimer\n\nThe backbone of this lecture is Robbins Basic Pathology; use textbooks, not notes.\n"
ASKED = "backbone of this lecture"


def deck(folder: Path, name: str, topic: str, disclaimer_after: int = 1) -> Path:
    """A deck of lecture notes: ``disclaimer_after`` slides on ``topic``, then the shared disclaimer slide."""
    slides = [f"## {topic} {n}\n\n{topic} lecture, part {n}: morphology and clinical course.\n" for n in range(1, 4)]
    slides.insert(disclaimer_after, DISCLAIMER)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(slides))
    return path


def places(hit: Hit) -> list[tuple[str, int | None]]:
    """Every place a hit cites: its own page, its source's repeats, then its copies elsewhere, by file name."""
    own = [(Path(hit.citation.source).name, page) for page in (hit.citation.page, *hit.repeated_on)]
    return own + [(Path(copy.source).name, copy.page) for copy in hit.repeated_in]


def disclaimers(hits: list[Hit]) -> list[Hit]:
    return [hit for hit in hits if "backbone" in hit.snippet]


# -- 1. a slide every deck includes is one hit ------------------------------------------------------------------------


def test_a_slide_two_decks_share_is_one_hit_naming_the_other_deck(tmp_path):
    """Two decks including one disclaimer slide gave two identical hits; now one, naming the other deck's slide."""
    decks = [deck(tmp_path / "course", "week1.qmd", "Granulomas"), deck(tmp_path / "course", "week2.qmd", "Amyloid", 2)]
    with searcher(tmp_path, decks) as search:
        hits = search.search(Query(text=ASKED))
    (shared,) = disclaimers(hits)
    assert sorted(places(shared)) == [("week1.qmd", 2), ("week2.qmd", 3)]
    (copy,) = shared.repeated_in
    other = "week2.qmd, slide 3" if shared.citation.page == 2 else "week1.qmd, slide 2"
    assert shared.label() == f"{shared.citation.label()} (also in {other})"
    assert shared.repeated_on == [] and copy.label() == other and copy.slide


def test_k_counts_distinct_hits_when_copies_in_other_decks_fold(tmp_path):
    """Four decks sharing the slide: k=3 gives three different slides, the shared one once, naming three copies."""
    topics = ["Granulomas", "Amyloid", "Tuberculosis", "Sarcoidosis"]
    decks = [deck(tmp_path / "course", f"week{n}.qmd", topic) for n, topic in enumerate(topics, start=1)]
    with searcher(tmp_path, decks) as search:
        hits = search.search(Query(text=f"{ASKED} tuberculosis lecture", k=3))
    assert len(hits) == 3 and len({(hit.citation.source, hit.citation.page) for hit in hits}) == 3
    (shared,) = disclaimers(hits)
    assert len(shared.repeated_in) == 3, places(shared)


def test_a_slide_repeated_in_its_own_deck_still_reads_repeated_on_beside_the_other_decks(tmp_path):
    """week1 shows the disclaimer twice (slides 2 and 5), week2 once: one hit, its own deck's repeat "repeated on", the
    other deck's "also in"."""
    week1 = deck(tmp_path / "course", "week1.qmd", "Granulomas")
    week1.write_text(week1.read_text() + "\n" + DISCLAIMER)
    week2 = deck(tmp_path / "course", "week2.qmd", "Amyloid")
    with searcher(tmp_path, [week1, week2]) as search:
        (shared,) = disclaimers(search.search(Query(text=ASKED)))
    assert sorted(places(shared)) == [("week1.qmd", 2), ("week1.qmd", 5), ("week2.qmd", 2)]
    if Path(shared.citation.source).name == "week1.qmd":  # the first page of the deck placed best
        assert shared.label() == "week1.qmd, slide 2 (repeated on slide 5) (also in week2.qmd, slide 2)"
    else:
        assert shared.label() == "week2.qmd, slide 2 (also in week1.qmd, slide 2; week1.qmd, slide 5)"


def test_the_hit_shows_the_first_page_of_the_source_placed_best_and_lists_the_others_in_order():
    """Copies placed b.pdf p. 5, a.pdf p. 3, a.pdf p. 1, b.pdf p. 2: the hit shows b.pdf p. 2 (its source placed
    best; that source's first page), repeated on p. 5, and names a.pdf p. 1 and p. 3."""
    pages = [("/lib/a.pdf", 1), ("/lib/a.pdf", 3), ("/lib/b.pdf", 5), ("/lib/b.pdf", 2)]
    groups = [Group((source, page), [f"r{n}"]) for n, (source, page) in enumerate(pages)]
    payloads = {f"r{n}": Payload(kind="page", source=source, page=page) for n, (source, page) in enumerate(pages)}
    assert split_copies([2, 1, 0, 3], groups, payloads) == (3, [2], [0, 1])
    assert split_copies([1], groups, payloads) == (1, [], [])


# -- 2. PDFs: the same page in two files, and the same words over another picture ------------------------------------


def test_one_page_two_pdfs_print_is_one_hit_naming_the_other_file(tmp_path):
    a = pdf(tmp_path / "lib" / "a.pdf", [COVER, *ASIDES])
    b = pdf(tmp_path / "lib" / "b.pdf", [OTHER, COVER])
    with searcher(tmp_path, [a, b]) as search:
        hits = search.search(Query(text=QUERY))
    covers = [hit for hit in hits if "Renal handout" in hit.snippet]
    assert len(covers) == 1 and sorted(places(covers[0])) == [("a.pdf", 1), ("b.pdf", 2)], [places(h) for h in hits]
    shown = "a.pdf, p. 1 (also in b.pdf, p. 2)", "b.pdf, p. 2 (also in a.pdf, p. 1)"
    assert covers[0].label() == shown[Path(covers[0].citation.source).name == "b.pdf"]
    assert ("b.pdf", 1) in [places(hit)[0] for hit in hits], "the other page of b.pdf is a hit of its own"


def test_the_same_words_over_different_pictures_in_two_pdfs_stay_apart(tmp_path):
    """Two quiz files printing "Identify the tissue" over another picture each: two questions, not one."""
    red = pdf(tmp_path / "lib" / "quiz1.pdf", ["Identify the tissue: glomerulus"], ["red"])
    blue = pdf(tmp_path / "lib" / "quiz2.pdf", ["Identify the tissue: glomerulus"], ["blue"])
    with searcher(tmp_path, [red, blue]) as search:
        hits = search.search(Query(text="identify tissue glomerulus"))
    assert sorted(places(hit) for hit in hits) == [[("quiz1.pdf", 1)], [("quiz2.pdf", 1)]]


@pytest.mark.parametrize("words", [QUERY, None], ids=["image and words", "image alone"])
def test_an_image_search_folds_a_page_two_pdfs_print_too(tmp_path, words):
    a = pdf(tmp_path / "lib" / "a.pdf", [COVER, *ASIDES])
    b = pdf(tmp_path / "lib" / "b.pdf", [OTHER, COVER])
    image = Image.new("RGB", (64, 64), "white")
    with searcher(tmp_path, [a, b], encoder=PIXELS) as search:
        hits = search.search(Query(text=words, image=image))
    cited = [place for hit in hits for place in places(hit)]
    assert sorted(cited) == sorted(set(cited)) and ("a.pdf", 1) in cited and ("b.pdf", 2) in cited, cited
    assert any(hit.repeated_in for hit in hits), "the cover is one hit naming its copy"


def test_a_deeper_pool_adds_no_copy_a_hit_already_names():
    """``paged`` follows the first hits with a deeper pool's: a copy named in ``repeated_in`` is shown already."""
    shared = Hit("p1", 1.0, "page", "", Citation("/c/week1.qmd", 2, page_label="slide 2"))
    shared.repeated_in = [Citation("/c/week2.qmd", 3, page_label="slide 3")]
    copy = Hit("p2", 0.5, "page", "", Citation("/c/week2.qmd", 3, page_label="slide 3"))
    other = Hit("p3", 0.4, "page", "", Citation("/c/week2.qmd", 1, page_label="slide 1"))
    assert [hit.id for hit in paged([shared], [copy, other], 3)] == ["p1", "p3"]


# -- 3. every door names the copies ------------------------------------------------------------------------------------


def test_the_json_rest_schema_table_and_web_card_name_the_other_decks(tmp_path):
    """``search --json`` (as REST and MCP) lists each copy as a citation; the table and the card's heading say where
    else the slide is, as the hit's label does; more than three copies are counted, not listed."""
    topics = ["Granulomas", "Amyloid", "Tuberculosis", "Sarcoidosis", "Asthma"]
    decks = [deck(tmp_path / "course", f"week{n}.qmd", topic) for n, topic in enumerate(topics, start=1)]
    home, index = tmp_path / "home", tmp_path / "index"
    assert run_cli("index", *decks, "--index", index, home=home).exit_code == 0
    found = run_cli("search", ASKED, "--index", index, "--json", home=home)
    (shared,) = [hit for hit in json.loads(found.stdout) if "backbone" in hit["snippet"]]
    copies = shared["repeated_in"]
    assert [(copy["source"], copy["page"], copy["page_label"]) for copy in copies] == sorted(
        (f"week{n}.qmd", 2, "slide 2") for n in range(1, 6) if f"week{n}.qmd" != shared["citation"]["source"]
    )
    assert all(copy["source_id"] and copy["bbox"] is None and copy["figure"] is None for copy in copies)
    first_three = "; ".join(f"{copy['source']}, slide 2" for copy in copies[:3])
    note = f" (also in {first_three}; and 1 more)"
    assert card_repeats(shared) == note
    table = run_cli("search", ASKED, "--index", index, home=home)
    assert shared["citation"]["label"] + note in " ".join(table.output.split()), table.output


def test_the_rest_schema_takes_a_hit_naming_its_copies():
    hit = Hit("p1", 1.0, "page", "", Citation("/c/week1.qmd", 2, page_label="slide 2"))
    hit.repeated_in = [Citation("/c/week2.qmd", 3, page_label="slide 3", book="Amyloid")]
    served = HitOut.of(hit).model_dump()["repeated_in"]
    assert served == hit_record(hit, 1)["repeated_in"] == [hit.repeated_in[0].to_dict()]
    assert served[0]["label"] == "Amyloid (week2.qmd), slide 3"
    assert (
        card_repeats(hit_record(hit, 1)) == " (also in week2.qmd, slide 3)" == hit.label()[len("week1.qmd, slide 2") :]
    )
