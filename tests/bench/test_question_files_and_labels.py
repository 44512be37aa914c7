"""A lecturer's question file and a reader's names: an option's letter given as the answer of a row without options
is refused (it was scored as an open question against "C"), answer keys written "D.", "(C)" or "C)" are that option,
a row without an answer names its keys whether it has options or not; an image named by its path is cited once; a
section filter may name a section by its last parts; a lone surrogate in a query is refused as what it is. Hashing
encoder and tiny files throughout."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest
from fastapi.testclient import TestClient

from pathatlas.agent.bench.items import load_items
from pathatlas.errors import BadInputError, UnknownSourceError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Citation, Payload
from pathatlas.retrieval.search import Query, Searcher, resolve_filters
from pathatlas.ui.api.app import create_app
from tests.helpers import hashing_settings, one_error_line, run_cli
from tests.indexer.test_case_ids import same_names_folder

CELLS = ["Osteoblast", "Osteocyte", "Osteoclast", "Chondrocyte"]
RESORB = {"id": "resorb", "question": "Which cell resorbs bone matrix?", "options": CELLS, "answer": "C"}


def asked(tmp_path: Path, *rows: dict) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """``rows`` as a question file, loaded: each item's (kind, gold answer) and each failed row's error, by id."""
    path = tmp_path / "quiz.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    items, failures = load_items(path, 10_000_000)
    return {i.id: (i.kind, i.gold_answer) for i in items}, {f["id"]: f["error"] for f in failures}


# 1. An option's letter without options ---------------------------------------------------------------------------


def test_a_letter_for_the_answer_of_a_row_without_options_fails_that_row_alone(tmp_path):
    rows = [RESORB, {**RESORB, "id": "lost", "options": []}, {**RESORB, "id": "keyed", "options": [], "answer": "(B)"}]
    rows += [{"id": "open", "question": "Which cell resorbs bone?", "answer": "Osteoclasts"}]
    rows += [{"id": "yesno", "question": "Do osteoclasts resorb bone?", "answer": "Yes."}]
    items, errors = asked(tmp_path, *rows)
    assert items == {"resorb": ("mcq", "C"), "open": ("open", "Osteoclasts"), "yesno": ("yesno", "yes")}
    assert errors == {
        "lost": "answer 'C' is a letter but the row has no options; give them, or the answer in words",
        "keyed": "answer '(B)' is a letter but the row has no options; give them, or the answer in words",
    }, "was an open question scored by token recall against 'C'"


# 2. Answer keys with a label's marks, and a row without an answer ---------------------------------------------------


def test_answer_keys_written_with_a_labels_marks_are_that_option(tmp_path):
    keys = {"dot": "D.", "brackets": "(C)", "closing": "C)", "lower": "c", "lower_dot": "b.", "colon": "A:"}
    items, errors = asked(tmp_path, *[{**RESORB, "id": name, "answer": key} for name, key in keys.items()])
    assert errors == {}
    assert items == {
        "dot": ("mcq", "D"),
        "brackets": ("mcq", "C"),
        "closing": ("mcq", "C"),
        "lower": ("mcq", "C"),
        "lower_dot": ("mcq", "B"),
        "colon": ("mcq", "A"),
    }


def test_keys_that_are_no_option_letter_are_still_refused(tmp_path):
    """A label's marks make no letter of a number (datasets count options from 0 or 1), nor of a letter past the
    options, and an option's text that opens with a genus's initial stays text."""
    rows = [{**RESORB, "id": "number", "answer": "(3)"}, {**RESORB, "id": "past", "answer": "E."}]
    rows += [{**RESORB, "id": "genus", "options": ["C. difficile", "S. aureus"], "answer": "S. aureus"}]
    items, errors = asked(tmp_path, *rows)
    assert items == {"genus": ("mcq", "B")}
    assert errors == {
        "number": "answer '(3)' is neither a letter (A, B, C, D) nor an option",
        "past": "answer 'E' is not one of A, B, C, D",
    }


def test_a_row_without_an_answer_fails_naming_its_keys_with_options_or_without(tmp_path):
    """README: "A row without an answer fails naming its keys"; one with options said "no answer: give the right
    option's letter"."""
    missing = {key: value for key, value in RESORB.items() if key != "answer"} | {"id": "missing"}
    rows = [RESORB, missing, {**RESORB, "id": "blank", "answer": " "}, {"id": "bare", "question": "Which cell?"}]
    _, errors = asked(tmp_path, *rows)
    assert errors == {
        "missing": "no answer to score against; the row's keys: id, question, options",
        "blank": "no answer to score against; the row's keys: id, question, options, answer",
        "bare": "no answer to score against; the row's keys: id, question",
    }


# 3. An image named by its path is cited once ---------------------------------------------------------------------


def test_an_image_named_by_its_path_is_cited_by_it_once():
    assert (
        Citation("/srv/cases", case="liver/slide1.jpg", image="liver/slide1.jpg").label() == "cases, liver/slide1.jpg"
    )
    assert Citation("/srv/cases", case="slide1", image="liver/slide1.jpg").label() == "cases, case slide1"
    assert Citation("/srv/cases", case="C-05", image="IMG_2049.jpg").label() == "cases, case C-05, IMG_2049.jpg"
    assert Citation("/srv/cases", case="C-05").label() == "cases, case C-05"


def test_a_case_folders_images_are_cited_as_their_case_ids_name_them(tmp_path):
    """``case_ids`` names same-stem images by their path: they were cited "cases, case liver/slide1.jpg,
    liver/slide1.jpg"."""
    folder = same_names_folder(tmp_path)
    settings = hashing_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([folder]).failed
    payloads = [Payload.from_payload(stored) for _, stored in index.store.scan({"kind": "case"})]
    index.close()
    labels = {payload.image: Citation.of(payload).label() for payload in payloads}
    assert labels == {
        "lung/slide1.jpg": "cases, lung/slide1.jpg",
        "liver/slide1.jpg": "cases, liver/slide1.jpg",
        "x.tif": "cases, x.tif",
        "x.jpg": "cases, x.jpg",
        "C1.jpg": "cases, C1.jpg",
        "y.jpg": "cases, case C1, y.jpg",
        "solo.jpg": "cases, case solo",
    }


# 4. A section named by its last parts ----------------------------------------------------------------------------

BOOKMARKS = [
    (1, "Chapter 1: Cells", "Cells are the units of life."),
    (2, "Introduction", "The cell membrane encloses the cytoplasm."),
    (2, "1.2 Cell Structure", "Organelles of the cell: mitochondria and ribosomes."),
    (1, "Chapter 6: Bone Tissue", "Bone is a connective tissue."),
    (2, "Introduction", "Bone tissue stores calcium."),
    (2, "6.3 Bone Structure", "Compact bone is made of osteons; osteoclasts resorb bone."),
]
STRUCTURE = "Chapter 6: Bone Tissue > 6.3 Bone Structure"


@pytest.fixture
def bookmarked(tmp_path) -> Path:
    """A book whose chapters each hold an "Introduction" and a numbered section, a page each, indexed into
    ``tmp_path/index``; returns ``tmp_path``."""
    doc = pymupdf.open()
    for _, _, text in BOOKMARKS:
        doc.new_page(width=300, height=300).insert_textbox(pymupdf.Rect(20, 20, 280, 280), text)
    doc.set_toc([[level, title, page] for page, (level, title, _) in enumerate(BOOKMARKS, start=1)])
    doc.save(tmp_path / "book.pdf")
    settings = hashing_settings(tmp_path)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([tmp_path / "book.pdf"]).failed
    index.close()
    return tmp_path


@pytest.mark.parametrize("name", ["Bone Structure", "6.3 Bone Structure", "bone  structure", STRUCTURE])
def test_a_section_is_named_by_its_last_parts_with_or_without_its_number(bookmarked, name):
    index = Index.open(bookmarked / "index", hashing_settings(bookmarked))
    assert resolve_filters({"section": name}, index)["section"] == STRUCTURE
    hits = Searcher(index).search(Query(text="bone", filters={"section": name}))
    index.close()
    assert hits and {hit.payload.section for hit in hits} == {STRUCTURE}


def test_a_section_name_several_sections_end_in_is_refused_listing_them(bookmarked):
    index = Index.open(bookmarked / "index", hashing_settings(bookmarked))
    with pytest.raises(UnknownSourceError) as refused:
        resolve_filters({"section": "introduction"}, index)
    with pytest.raises(UnknownSourceError, match="no section 'Bone Structur'.*closest: 'Chapter 6: Bone Tissue"):
        resolve_filters({"section": "Bone Structur"}, index)
    index.close()
    assert str(refused.value) == (
        f"section 'introduction' names 2 sections in index {bookmarked / 'index'}: 'Chapter 1: Cells > "
        "Introduction', 'Chapter 6: Bone Tissue > Introduction'; give its whole path"
    )


def test_the_cli_and_rest_take_a_section_by_its_last_part(bookmarked):
    home, index = bookmarked / "home", bookmarked / "index"
    found = run_cli("search", "bone", "--index", index, "--filter", "section=Bone Structure", "--json", home=home)
    assert found.exit_code == 0, found.output
    assert {hit["section"] for hit in json.loads(found.output)} == {STRUCTURE}
    refused = run_cli("search", "bone", "--index", index, "--filter", "section=Introduction", home=home)
    one_error_line(refused, "section 'Introduction' names 2 sections", "give its whole path")
    with TestClient(create_app(hashing_settings(bookmarked))) as client:
        answered = client.post("/search", json={"text": "bone", "filters": {"section": "Bone Structure"}})
    assert answered.status_code == 200, answered.text
    assert {hit["section"] for hit in answered.json()["hits"]} == {STRUCTURE}


# 5. A lone surrogate ---------------------------------------------------------------------------------------------


def test_a_lone_surrogate_in_a_query_is_refused_as_what_it_is_not_blamed_on_a_terminal():
    with pytest.raises(BadInputError) as refused:
        Query(text="bone \ud800").validate()
    assert str(refused.value) == "text holds a lone surrogate (\\ud800): not valid Unicode"
