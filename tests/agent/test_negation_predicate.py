"""What a negated verb denies: it speaks against its subject only where its predicate (the words the negation
reaches) is what the question asks or the option's own; a subject joined across "of" and the subject of a verb joined
by "and" are denied too, and "and Z do" affirms Z (thirty-sixth session)."""

from __future__ import annotations

import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import contradicts
from pathatlas.agent.questions import Evidence, Question
from pathatlas.retrieval.records import Citation, Payload

RESORB = Question("Which cells resorb bone?", ["Osteoblasts", "Osteoclasts", "Osteocytes", "Chondrocytes"])
ASKED = {"resorb", "bone"}
SYNOVIAL = Question(
    "Synovial joints ________.",
    [
        "may be functionally classified as a synarthrosis",
        "are joints where the bones are connected to each other by hyaline cartilage",
        "may be functionally classified as an amphiarthrosis",
        "are joints where the bones articulate with each other within a fluid-filled joint cavity",
    ],
)
SYNOVIAL_SAID = (
    "In a synovial joint, the articulating surfaces of the bones are not directly connected, but instead come into "
    "contact with each other within a joint cavity that is filled with a lubricating fluid."
)


def evidence(text: str) -> Evidence:
    return Evidence("p1", "page", text, Citation("book.pdf", page=1), 1, payload=Payload(kind="page"))


def answer(question: Question, said: str):
    return OfflineAnswerer(encoder=None).answer(question, [evidence(said)])


def test_a_negated_verb_speaks_against_its_subject_only_in_what_is_asked_or_its_own():
    assert contradicts("Osteoblasts do not resorb bone.", {"osteoblast"}, ASKED)
    assert not contradicts("Osteoclasts, which resorb bone, do not divide.", {"osteoclast"}, ASKED)
    assert contradicts("Osteoclasts do not divide.", {"osteoclast", "divid"}, ASKED), "the option's own words count"
    assert contradicts("Osteoblasts do not resorb bone.", {"osteoblast"}), "without a question every predicate counts"


def test_an_elliptical_predicate_is_the_rest_of_the_sentence():
    assert contradicts("Osteoclasts resorb bone, but osteoblasts do not.", {"osteoblast"}, ASKED)


def test_a_subject_is_joined_across_of_and_to_a_compound():
    said = "The osteoblasts and osteocytes of the periosteum do not resorb bone."
    assert all(contradicts(said, {name}, ASKED) for name in ("osteoblast", "osteocyt", "periosteum"))
    assert not contradicts("In the embryo, the cells of the periosteum do not resorb bone.", {"embryo"}, ASKED)


def test_a_verb_joined_by_and_is_said_of_the_clause_subject():
    said = "Osteoblasts build bone and do not resorb it, but osteoclasts do."
    assert contradicts(said, {"osteoblast"}, ASKED) and not contradicts(said, {"osteoclast"}, ASKED)


def test_and_with_an_elliptical_verb_affirms_its_own_name():
    said = "Osteoblasts do not resorb bone, and osteoclasts do."
    assert contradicts(said, {"osteoblast"}, ASKED) and not contradicts(said, {"osteoclast"}, ASKED)
    listed = "Hyaline cartilage does not contain collagen, elastin, and reticular fibers."
    assert contradicts(listed, {"reticulum"}), "a list's last item stays denied"


@pytest.mark.parametrize(
    "said",
    [
        "Osteoclasts, which resorb bone, do not divide.",
        "Osteoblasts build bone and do not resorb it, but osteoclasts do.",
        "Osteoblasts do not resorb bone, and osteoclasts do.",
        "The osteoblasts of the periosteum do not resorb bone, but osteoclasts do.",
    ],
)
def test_the_answer_is_the_cell_the_sentence_says_resorbs(said):
    assert answer(RESORB, said).letter == "B"
    assert [q.stance for q in answer(RESORB, said).quotes[1]] == ["supports"]


def test_a_denied_predicate_not_asked_leaves_the_sentence_point_standing():
    """ap2e-m46383-q4: "the articulating surfaces of the bones are not directly connected" denies a connection (option
    B's word), not that bones articulate within a fluid-filled joint cavity (option D, the sentence's own point)."""
    read = answer(SYNOVIAL, SYNOVIAL_SAID)
    assert read.letter == "D"
    assert [q.stance for q in read.quotes[3]] == ["supports"]


@pytest.mark.parametrize(
    ("asked", "options", "said", "right"),
    [
        (
            "Which bone cells synthesize and secrete the collagen matrix?",
            ["Osteoblasts", "Osteoclasts", "Osteocytes", "Chondrocytes"],
            "Osteoblasts, which do not divide, synthesize and secrete the collagen matrix and calcium salts.",
            "A",
        ),
        (
            "Which molecules are called hydrophobic?",
            ["Nonpolar molecules", "Ions", "Polar molecules", "Salts"],
            "Nonpolar molecules, which do not readily dissolve in water, are called hydrophobic, or water-fearing.",
            "A",
        ),
        (
            "Where is most sodium reabsorbed?",
            ["Proximal tubule", "Collecting duct", "Loop of Henle", "Distal tubule"],
            "Most sodium is reabsorbed in the proximal tubule, and potassium is not.",
            "A",
        ),
        (
            "Which tissue do permanent synchondroses retain?",
            ["Hyaline cartilage", "Fibrocartilage", "Dense bone", "Elastic cartilage"],
            "These permanent synchondroses retain their hyaline cartilage and thus do not ossify with age.",
            "A",
        ),
        (
            "Which blood type has both A and B antigens?",
            ["Type A", "Type B", "Type AB", "Type O"],
            "Individuals with type AB blood, which has both antigens, do not have naturally-formed antibodies to "
            "either of these.",
            "C",
        ),
    ],
)
def test_a_book_sentence_that_supports_an_option_is_not_read_as_denying_it(asked, options, said, right):
    """The book's own sentences (pp. 51, 174, 268, 587; a reviewer's probe): a negation inside a ", which ...," aside
    denies only the aside's verb, and ", and Z is not." denies Z alone. Each was answered with another option."""
    read = answer(Question(asked, options), said)
    assert read.letter == right
    assert "contradicts" not in [q.stance for q in read.quotes["ABCD".index(right)]]
