"""The web UI's headline for an unsettled open answer: a diagnosis the similar cases gave is no "nearest sentence"."""

from __future__ import annotations

from pathatlas.ui.present import diagnosed_by_cases, unsettled_said


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


def test_only_an_answer_whose_image_was_searched_is_the_similar_cases_diagnosis():
    """An open question over case folders alone quotes a case's sentence: it was headed "Leaning to the similar cases'
    diagnosis" (the command line: "leaning to", no confidence) for citing a case."""
    cited = {"citations": [{"case": "DEMO-01"}]}
    searched = [{"step": "search", "image": False}, {"step": "search", "image": True}]
    assert diagnosed_by_cases({**cited, "trace": searched})
    assert not diagnosed_by_cases({**cited, "trace": searched[:1]}), "words alone searched: a quote"
    assert not diagnosed_by_cases({"citations": [{"case": None}], "trace": searched}), "no case cited"
