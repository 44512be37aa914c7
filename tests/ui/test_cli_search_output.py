"""A student's report on ``pathatlas search``: a figure hit read its label twice ("..., Figure 21.31" cited beside
"Figure 21.31. Karposi's Sarcoma Lesions: ..."), and a query of words no indexed text holds ("Malory bodies", "DCIS")
gave a confident "best match" with no hint. Hashing encoder, figure OCR off: no model to load."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from pathatlas.retrieval.records import Payload, after_label
from tests.helpers import indexed_lecture, run_cli

CAPTION = "Figure 21.31. Kaposi's Sarcoma Lesions: violet plaques on the skin of the foot."


def figure_page(path: Path) -> Path:
    """A one-page PDF: a paragraph, a picture, and its caption under it opening with its label."""
    buffer = io.BytesIO()
    Image.new("RGB", (240, 160), (150, 60, 120)).save(buffer, "PNG")
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(40, 40, 560, 120), "Immune responses keep some cancers in check.", fontsize=11)
    page.insert_image(pymupdf.Rect(150, 140, 390, 300), stream=buffer.getvalue())
    page.insert_textbox(pymupdf.Rect(60, 306, 560, 340), CAPTION, fontsize=9)
    doc.save(path)
    return path


def search(root: Path, *args) -> object:
    result = run_cli("search", *args, "--index", root / "idx", home=root / "home", PATHATLAS_FIGURE_OCR="0")
    assert result.exit_code == 0, result.output
    return result


# -- 1. a figure's label, once ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("book")
    pdf = figure_page(root / "book.pdf")
    result = run_cli("index", pdf, "--index", root / "idx", home=root / "home", PATHATLAS_FIGURE_OCR="0")
    assert result.exit_code == 0, result.output
    return root


def test_a_figure_hit_shows_its_caption_after_the_label_its_citation_names(book):
    result = search(book, "Kaposi sarcoma lesions", "--filter", "kind=figure", "--json")
    (hit,) = json.loads(result.stdout)
    assert hit["citation"]["label"] == "book.pdf, p. 1, Figure 21.31"
    assert hit["snippet"] == "Kaposi's Sarcoma Lesions: violet plaques on the skin of the foot.", hit["snippet"]
    assert hit["snippet_marks"] and hit["snippet"][slice(*hit["snippet_marks"][0])] == "Kaposi"
    table = search(book, "Kaposi sarcoma lesions", "--filter", "kind=figure").stdout
    assert table.count("21.31") == 1, table


@pytest.mark.parametrize(
    ("caption", "label", "shown"),
    [
        ("Fig. 3: Lung, low power", "Fig. 3", "Lung, low power"),
        ("Abb.3 Lunge", "Abb. 3", "Lunge"),  # the label's spaces as printed
        ("FIGURE 4.14 Reticular Tissue", "Figure 4.14", "Reticular Tissue"),
        ("Figure 2 - Gastric mucosa", "Figure 2", "Gastric mucosa"),
        ("Figure 2.1 Gastric mucosa", "Figure 2", ""),  # another figure's label
        ("Figure 21 Gastric mucosa", "Figure 2", ""),
        ("Figure 2.", "Figure 2", ""),  # the label alone
        ("Gastric mucosa (Figure 2)", "Figure 2", ""),
    ],
)
def test_after_label_takes_off_only_the_label_opening_the_caption(caption, label, shown):
    assert after_label(caption, label) == shown


def test_a_quote_keeps_a_caption_that_is_its_label_alone_and_other_kinds_text_as_is():
    assert Payload(kind="figure", figure="Figure 2", text="Figure 2.").body == "Figure 2."
    assert Payload(kind="passage", figure="Figure 2", text="Figure 2. Lung").body == "Figure 2. Lung"
    printed = Payload(kind="figure", figure="Figure 4", figure_printed="Fig. 4", text="Figure 4. Bone")
    assert printed.body == "Bone", "either label the record keeps"


# -- 2. words no indexed text holds -----------------------------------------------------------------------------------

LECTURE = (
    "Mallory bodies are tangled keratin filaments in ballooned hepatocytes of alcoholic hepatitis. "
    "Psammoma bodies are laminated calcifications of papillary tumours."
)


@pytest.fixture(scope="module")
def lecture(tmp_path_factory) -> Path:
    return indexed_lecture(tmp_path_factory.mktemp("liver"), "liver.pdf", LECTURE)


def warnings_of(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("warning:")]


def test_a_search_word_no_indexed_text_holds_is_warned_naming_the_closest_indexed_word(lecture):
    result = search(lecture, "Malory bodies", "--json")
    assert json.loads(result.stdout), "stdout stays one JSON document, with the hits found"
    (warning,) = warnings_of(result)
    assert warning.startswith("warning: query 'Malory bodies': no indexed word 'Malory'"), warning
    assert "closest: 'mallory'" in warning, warning


def test_each_unindexed_word_of_a_search_is_warned_once_and_indexed_words_never(lecture):
    assert warnings_of(search(lecture, "Mallory bodies in hepatocytes")) == []
    warned = warnings_of(search(lecture, "DCIS with Malory bodies, DCIS"))
    assert [w.split("no indexed word ")[1].split()[0] for w in warned] == ["'DCIS'", "'Malory'"], warned
