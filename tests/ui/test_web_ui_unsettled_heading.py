"""The web UI's headline for an unsettled open answer: a diagnosis the similar cases gave is no "nearest sentence"."""

from __future__ import annotations

from pathatlas.ui.present import unsettled_said


def test_an_open_answer_from_similar_cases_leans_to_their_diagnosis():
    said = unsettled_said([], [], "benign lung tissue", cases=True)
    assert said == "Leaning to the similar cases' diagnosis: benign lung tissue"


def test_an_open_answer_from_the_text_is_still_its_nearest_sentence_and_options_their_best():
    assert (
        unsettled_said([], [], "Osteoclasts resorb bone.")
        == "Nearest sentence, which may not answer it: Osteoclasts resorb bone."
    )
    option = {"label": "B", "text": "osteoclast"}
    assert unsettled_said([option], [], "B. osteoclast", cases=True) == "Best supported: B. osteoclast"
