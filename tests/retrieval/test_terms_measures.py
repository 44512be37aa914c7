"""Numbers a student types with what they measure: "pH 7.4" was "pH 7" (any page with "pH" and a 7), "5 mm" was
"mm", "Figure 7.11" found every "11", and an option "7.4" named nothing the agent could quote."""

from __future__ import annotations

import time

from pathatlas.agent.evidence import option_terms, words_in_order
from pathatlas.retrieval.terms import analysed, lookup_terms
from tests.retrieval.test_terms_stems_units_and_charges import ranked


def test_a_decimal_is_one_term_not_its_digits():
    pages = {
        "blood": "Arterial blood has a pH of 7.4 when the buffers hold it.",
        "urine": "Urine pH is near 6 but may fall; 7 of 4 samples were tested.",
    }
    assert ranked(pages, "pH 7.4")[0] == "blood"
    assert ranked(pages, "blood pH 7.4") == ["blood", "urine"]
    assert "ph 7" not in lookup_terms(["pH 7.4"])[0]  # no "type 2"-like name of a decimal's first digit


def test_a_range_s_decimals_are_not_their_fractions():
    (extra,) = analysed(["The normal range is 7.35 to 7.45."])[1]
    assert {"7.35", "7.45"} <= set(extra)
    assert "35" not in extra and "45" not in extra


def test_a_number_with_its_unit_finds_that_measure_before_the_unit_alone():
    pages = {
        "five": "The lesion measured 5 mm across in the biopsy taken from the upper lobe of the lung.",
        "other": "A lesion of 25 mm at 5 cm.",
    }
    assert ranked(pages, "5 mm")[0] == "five"
    assert ranked(pages, "5mm lesion")[0] == "five"


def test_a_unit_written_either_way_is_one_term():
    assert lookup_terms(["95%"])[0] == lookup_terms(["95%"])[0] and "95 percent" in lookup_terms(["95%"])[0]
    assert "95 percent" in analysed(["About 95 percent of the mass."])[1][0]
    assert "120 mm hg" in analysed(["a pressure of 120 mm Hg"])[1][0]
    assert "120 mm hg" in lookup_terms(["120 mmHg"])[0]


def test_a_figure_number_finds_its_figure_not_every_eleven():
    pages = {
        "seven": "Figure 7.11 The bones of the skull seen from the side.",
        "two": "Figure 7.2 Bones of the hand, 11 of them drawn, 11 named.",
    }
    assert ranked(pages, "Figure 7.11")[0] == "seven"


def test_dotted_versions_and_thousands_are_no_measures():
    assert analysed(["version 1.2.3 of 1,000 cells at 3.5."])[1][0] == ["3.5"]


def test_a_numeric_option_names_the_sentence_that_states_it():
    terms = option_terms("What is the normal pH of arterial blood?", ["6.8", "7.4", "8.1"])
    assert terms == [{"6.8"}, {"7.4"}, {"8.1"}]
    (words,) = words_in_order(["Normal arterial blood has a pH of 7.4."])
    assert "7.4" in words


def test_a_long_word_typed_is_read_at_once_not_split_every_way():
    """As a query types it (any case), a run of letters was tried as a charged name split every way: 24 letters took
    28 ms, each two more nearly three times as long, and "koilocytes xxx...x.png" of 300 hung the search."""
    started = time.perf_counter()
    assert lookup_terms(["koilocytes " + "x" * 34 + ".png"])
    assert time.perf_counter() - started < 1.0
    assert {"k+", "ca2+", "hco3-", "nh4+"} <= set(lookup_terms(["k+ and ca2+, HCO3- NH4+"])[0])
