"""What a negation denies, checked on the A&P book's own sentences (a 38th-session audit of the negation rules against
137be04): a name a preposition places ("at the point of impact", "from the lateral side of the retina") is not the
subject, a comma before "and" joins two clauses unless it ends a list, a bare "that" after a placed name may be said of
either name, and an opening phrase ("Unlike sperm, ", "Thus, ") names no subject."""

from __future__ import annotations

import pytest

from pathatlas.agent.evidence import contradicts


@pytest.mark.parametrize(
    ("said", "not_denied"),
    [
        (
            "Moreover, chemotherapy is highly toxic to the liver, and certain tumors do not respond well to it anyway.",
            "liver",
        ),
        (
            "However, within each eye, the axons projecting from the lateral side of the retina do not decussate.",
            "retina",
        ),
        (
            "In a contrecoup (counterblow) fracture, the bone at the point of impact is not broken, but instead a "
            "fracture occurs on the opposite side of the skull.",
            "impact",
        ),
        ("Segmentation in the small intestine does not force chyme through the tract.", "intestin"),
        ("The carbon within the acetoacetyl CoA that is not bonded to the CoA then detaches.", "acetoacetyl"),
        (
            "A key structural characteristic for a synovial joint that is not seen at fibrous or cartilaginous joints "
            "is the presence of a joint cavity.",
            "synovi",
        ),
        ("Unlike sperm, oocytes lack flagella, and therefore cannot move on their own.", "sperm"),
    ],
)
def test_a_book_sentence_does_not_deny_a_name_it_only_places_or_joins_from_another_clause(said, not_denied):
    """pp. 38, 451, 204, 810, 849, 269, 943: the liver, the retina, the point of impact, the small intestine, the
    acetoacetyl CoA, the synovial joint and the sperm were read as denied."""
    assert not contradicts(said, {not_denied})


@pytest.mark.parametrize(
    ("said", "denied"),
    [
        (
            "However, within each eye, the axons projecting from the lateral side of the retina do not decussate.",
            "axon",
        ),
        ("Segmentation in the small intestine does not force chyme through the tract.", "segment"),
        ("Unlike sperm, oocytes lack flagella, and therefore cannot move on their own.", "oocyt"),
        (
            "Multiunit smooth muscle cells rarely possess gap junctions, and thus are not electrically coupled.",
            "multiunit",
        ),
        (
            "This fluid also provides nourishment to the articular cartilage, which does not contain blood vessels.",
            "cartilag",
        ),
        (
            "Exposure to second-hand smoke can cause lung cancer in individuals who are not tobacco users themselves.",
            "individu",
        ),
        ("Only very few cell types in the body do not divide, including nerve cells.", "type"),
        ("They constrict blood vessels to organs not essential for flight-or-fight responses.", "organ"),
    ],
)
def test_the_subject_a_place_is_said_of_is_denied_instead(said, denied):
    """The name before a placing preposition, a verb joined by "and thus" to the clause's own subject, and a relative
    set off by a comma or "who", or a bare "not" ("organs not essential", p. 668), said of the name just before it,
    stay denied."""
    assert contradicts(said, {denied})
