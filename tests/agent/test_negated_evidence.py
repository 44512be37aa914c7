"""A negated question ("Which is NOT ...", "... EXCEPT") words its evidence consistently: a quote that says nothing
asked ties no option, a short sentence is read, and a tie names no exception (forty-ninth session)."""

from __future__ import annotations

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import split_sentences
from pathatlas.agent.plan import read_question
from pathatlas.agent.questions import Answer, Question, Quote
from pathatlas.agent.writing import rationale
from tests.agent.test_least_questions import pages

MALLORY = Question("Mallory-Denk bodies are NOT seen in which condition?", ["Alcoholic hepatitis", "Viral hepatitis"])
SEEN_NOT_IN = "Mallory-Denk bodies are seen in alcoholic hepatitis, not in viral hepatitis."
KOILOCYTES = Question(
    "Which of the following is NOT a feature of koilocytes?",
    ["perinuclear halo", "raisinoid nucleus", "binucleation", "keratin pearls"],
)
PRIMER = (  # the demo primer's koilocyte paragraph (corpora/demo_text.py) and its figure's caption
    "Koilocytes are the hallmark of productive HPV infection: superficial squamous cells with an enlarged, "
    "hyperchromatic, wrinkled (raisinoid) nucleus surrounded by a sharply outlined clear perinuclear halo. "
    "Binucleation is common.",
    "Koilocytes in cervical squamous epithelium: clear perinuclear halos around raisinoid nuclei.",
    "Squamous cell carcinoma shows keratinisation with keratin pearls and intercellular bridges.",
)


def test_a_quote_saying_nothing_asked_ties_no_option_to_a_negated_question():
    """Every sentence naming an option without denying it was shown as contradicting it ("Emigration: Leukocytes exit
    the blood vessel ..." under leukocytes for what are not formed elements of blood), as no plain question shows it."""
    question = Question(
        "All of the following are formed elements of blood EXCEPT", ["erythrocytes", "leukocytes", "platelets"]
    )
    found = pages(
        "Erythrocytes are the most numerous formed elements of blood.",
        "Platelets are formed elements of blood too.",
        "Emigration: Leukocytes exit the blood vessel and then move through the connective tissue of the dermis.",
    )
    answer = OfflineAnswerer(encoder=None).answer(question, found)
    assert [q.stance for q in answer.quotes[1] if q.text == found[2].text] == ["related"]
    assert [[q.stance for q in answer.quotes[j]] for j in (0, 2)] == [["contradicts"], ["contradicts"]]
    assert answer.letter == "B" and "The evidence ties A, C to the question" in answer.rationale


def test_a_short_sentence_is_read_and_quoted():
    """ "Binucleation is common." (three words) was dropped as a fragment: binucleation had no quote and stood second
    as the likely exception."""
    assert split_sentences(PRIMER[0])[-1] == "Binucleation is common."
    assert split_sentences("Loose Connective Tissue\n\nLM × 412.") == []
    answer = OfflineAnswerer(encoder=None).answer(KOILOCYTES, pages(*PRIMER))
    assert answer.letter == "D"
    assert [q.text for q in answer.quotes[2]] == ["Binucleation is common."]


def test_a_tie_names_no_exception():
    """A tie's rationale said "The question asks for the exception: A. Alcoholic hepatitis", the first option by its
    words, which the evidence did not single out."""
    quote = Quote(SEEN_NOT_IN, pages(SEEN_NOT_IN)[0], "contradicts", 1.0, settles=True, covers=1.0)
    tied = Answer(0, MALLORY.options[0], 0.5, scores=[0.5, 0.5], quotes=[[quote], []], settled=False)
    written = rationale(MALLORY, read_question(MALLORY), tied)
    assert "a tie leaning to neither" in written and "The question asks for the exception." in written
    assert "exception: A" not in written and "Against A:" in written
