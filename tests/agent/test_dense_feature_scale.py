"""The encoder features (``dense``, ``prior``) keep the size of the options' similarity gap (thirty-second session):
min-max over the options made a 0.026 gap in "Which cells resorb bone?" the feature's whole range, and answered
osteoblasts, settled."""

from __future__ import annotations

import numpy as np

from pathatlas.agent.evidence import evidence_sentences, score_sentences
from pathatlas.agent.plan import read_question
from pathatlas.agent.questions import Evidence, Question
from pathatlas.agent.scoring import FEATURES, SIMILARITY_SPREAD, dense_features
from pathatlas.retrieval.records import Citation, Payload

QUESTION = Question("Which cells resorb bone?", ["Osteoblasts", "Osteoclasts"])
MAKERS = "Osteoblasts are cells that make new bone."
RESORBERS = "The cell responsible for bone resorption, or breakdown, is the osteoclast."
DENSE, PRIOR = FEATURES.index("dense"), FEATURES.index("prior")


def page(eid: str, text: str, rank: int) -> Evidence:
    return Evidence(eid, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def unit(cosine: float) -> np.ndarray:
    """A unit vector at ``cosine`` to the first axis."""
    return np.array([cosine, np.sqrt(1.0 - cosine**2), 0.0])


def fake_encoder(similarity: dict[str, float]):
    """Texts to unit vectors: each text in ``similarity`` at that cosine to the first axis, every other text on the
    first axis (the question, the options and "question + option" alike), so a sentence's similarity to any of them
    is the one given."""

    def encode(texts: list[str]) -> np.ndarray:
        return np.stack([unit(similarity.get(text, 1.0)) for text in texts])

    return encode


def dense_of(makers: float, resorbers: float) -> np.ndarray:
    """The ``dense`` feature of the two options when each one's only sentence is that similar to the question."""
    reading = read_question(QUESTION)
    sentences = evidence_sentences([page("p1", MAKERS, 1), page("p2", RESORBERS, 2)])
    scores = score_sentences(reading, QUESTION.text, QUESTION.options, sentences)
    encode = fake_encoder({MAKERS: makers, RESORBERS: resorbers})
    dense, _ = dense_features(encode, QUESTION.text, reading.focus, QUESTION.options, scores)
    return dense


def test_a_small_similarity_gap_stays_small():
    """The book's case: 0.826 against 0.800 is a gap of 0.026, not the whole range (min-max gave 1 and 0)."""
    dense = dense_of(0.826, 0.800)
    assert dense[0] == 1.0
    assert np.isclose(dense[0] - dense[1], 0.026 / SIMILARITY_SPREAD)
    assert dense[0] - dense[1] < 0.1


def test_a_large_similarity_gap_stays_large_and_gaps_keep_their_order():
    """A gap ten times larger counts ten times more: the scale is fixed, not the options' own spread."""
    small, large = dense_of(0.826, 0.800), dense_of(0.826, 0.566)
    assert np.isclose(large[0] - large[1], 10 * (small[0] - small[1]))
    assert large[0] - large[1] > 0.5


def test_the_option_question_similarity_keeps_its_gap_too():
    """``prior``: the options' own similarity to the question, scaled the same way."""
    reading = read_question(QUESTION)
    scores = score_sentences(reading, QUESTION.text, QUESTION.options, [])
    encode = fake_encoder({"Osteoblasts": 0.517, "Osteoclasts": 0.581})
    dense, prior = dense_features(encode, QUESTION.text, reading.focus, QUESTION.options, scores)
    assert list(dense) == [0.0, 0.0]  # no sentence names an option: nothing to compare
    assert prior[1] == 1.0 and np.isclose(prior[1] - prior[0], 0.064 / SIMILARITY_SPREAD)
