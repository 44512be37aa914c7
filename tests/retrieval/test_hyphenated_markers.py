"""A marker typed with its hyphen ("Ki-67", "HER-2") is searched as the marker, not as its pieces ("ki", "67", the
pronoun "her"), and a stain joined by an ampersand ("H&E") is a word of a short search: the records holding it and the
query's other words come first."""

from __future__ import annotations

import numpy as np
import pymupdf
import pytest
from PIL import Image

from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.retrieval.terms import content_terms, every_word_a_term, lookup_terms
from tests.helpers import hashing_settings, index_new, ranked

MARKERS = "Immunohistochemistry showed HER2 overexpression and a high Ki67 proliferation index."
NUMBERS = "She noticed a lump in her breast. Of 67 patients seen, 67 were women."
LIONESS = "If that lioness is successful in her hunting, her cubs eat and her pride grows; her mate rests."
BREAST = {
    "breast": "The mammary glands of the breast; breast cancer is the most common cancer in women.",
    "lymph": "Lymph from the breast drains to axillary nodes, where breast cancer spreads first.",
    "lung": "Lung cancer is the leading cause of cancer death.",
    "mother": "A mother passes antibodies to her baby across the placenta.",
}


@pytest.mark.parametrize(
    ("query", "pieces", "kept"),
    [
        ("Ki-67", {"67"}, {"ki67", "ki"}),
        ("HER-2 breast cancer", {"her"}, {"her2", "her 2", "breast", "cancer"}),
        ("IL-6", {"6"}, {"il6", "il 6", "il"}),
        ("HPV-16 cervical cancer", {"16"}, {"hpv16", "hpv", "cervic"}),
        ("COVID-19 pneumonia", {"19"}, {"covid19", "covid", "pneumonium"}),
    ],
)
def test_a_hyphenated_marker_is_looked_up_as_the_marker_and_its_word_not_its_number(query, pieces, kept):
    """ "Ki-67" looked up "67" beside "ki67", and "HER-2" the pronoun "her": a count's number and a function word
    weighed as much as the marker. Its word stays: "HPV-16" finds a page printing "HPV 16 and 18", "COVID-19" one on
    "COVID pneumonia"."""
    looked = set(lookup_terms([query])[0])
    assert kept <= looked and not pieces & {term.removeprefix("tr:") for term in looked}


@pytest.mark.parametrize(
    ("query", "stems"),
    [
        ("cell-mediated immunity", {"cell", "mediat", "immun"}),
        ("non-small cell carcinoma", {"non", "small", "cell"}),
        ("T-cell receptor", {"t cell", "cell", "receptor"}),
        ("of 67 patients", {"67", "patient"}),
    ],
)
def test_hyphenated_words_and_numbers_keep_their_pieces(query, stems):
    """Only a short word joined to a number by a hyphen is a marker: "non-small" is "non" and "small" still."""
    assert stems <= set(lookup_terms([query])[0])


def test_ki_67_finds_the_page_naming_ki67_not_the_page_of_67_patients():
    """A page saying "67" twice ranked first for "Ki-67", above the page on Ki67."""
    assert ranked({"markers": MARKERS, "numbers": NUMBERS}, "Ki-67") == ["markers"]


def test_her_2_breast_cancer_finds_what_her2_breast_cancer_finds_not_the_lioness():
    """ "HER-2 breast cancer" found a page on a lioness's hunting, which says "her" four times and nothing asked."""
    pages = {"lioness": LIONESS, **BREAST}
    assert ranked(pages, "HER-2 breast cancer") == ranked(pages, "HER2 breast cancer")
    assert "lioness" not in ranked(pages, "HER-2 breast cancer")


def test_a_marker_typed_with_a_hyphen_finds_the_page_printing_it_spaced():
    pages = {"spaced": "HPV 16 and 18 cause most cervical cancer.", "other": "Smoking causes lung cancer."}
    assert ranked(pages, "HPV-16 cervical cancer")[0] == "spaced"


def test_a_joined_name_is_a_word_of_a_short_search():
    assert every_word_a_term("H&E stain") and every_word_a_term("Ki-67 index") and every_word_a_term("IL-6")
    assert content_terms("H&E stain") == ["stain", "h&e"] and content_terms("Ki-67") == ["ki67"]
    assert not every_word_a_term("T-cell receptor") and not every_word_a_term("type 2 diabetes")


@pytest.fixture
def stained_cases(tmp_path):
    """A case folder of H&E sections, two of them labelled by their stain, and a smear labelled PAP: its short text
    says "stain" twice, and most records say "H&E", so BM25 weighs "stain" above "H&E"."""
    folder = tmp_path / "cases"
    folder.mkdir()
    cells = "sheets of atypical squamous cells with enlarged hyperchromatic nuclei and koilocytes"
    labelled = [("cervical smear", "Pap stain", "PAP"), *[("cervical biopsy", cells, "H&E")] * 2]
    rows = ["image,case,diagnosis,description,stain"]
    for n, (diagnosis, description, stain) in enumerate([*labelled, *[("biopsy", "H&E section", "")] * 8]):
        pixels = np.random.default_rng(n).integers(0, 255, (48, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"s{n}.png")
        rows.append(f"s{n}.png,C{n},{diagnosis},{description},{stain}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def searched(tmp_path, source, query: str, k: int) -> list:
    settings = hashing_settings(tmp_path)
    index_new(settings, source)
    with Index.open(settings.index_dir, settings) as index:
        return Searcher(index).search(Query(text=query, k=k))


def test_h_and_e_stain_finds_both_h_and_e_images_first(tmp_path, stained_cases):
    """ "H&E stain" ranked the PAP smear, which holds "stain" alone, first: every-word-first was skipped for the
    letters of "H&E", and the rule read no "h&e" among the words a record must hold."""
    hits = searched(tmp_path, stained_cases, "H&E stain", k=3)
    assert [hit.payload.labels["stain"] for hit in hits][:2] == ["H&E", "H&E"]


def test_ki_67_in_a_pdf_finds_its_page_first(tmp_path):
    """The walkthrough's three pages: "Ki-67" put the page of 67 patients first, the page on Ki67 second."""
    doc = pymupdf.open()
    for text in (MARKERS, NUMBERS, "The thyroid gland lies in the neck."):
        doc.new_page().insert_textbox(pymupdf.Rect(40, 40, 560, 400), text, fontsize=11)
    doc.save(tmp_path / "lecture.pdf")
    hits = searched(tmp_path, tmp_path / "lecture.pdf", "Ki-67", k=2)
    assert hits[0].payload.page == 1
