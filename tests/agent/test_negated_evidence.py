"""A negated question ("Which is NOT ...", "... EXCEPT") weighs and words its evidence as a plain one does: a sentence
setting two options against each other says its predicate of both ("seen in alcoholic hepatitis, not in viral
hepatitis"), a clause saying an option's own words outside its negations does not deny it, a quote that says nothing
asked ties no option, a short sentence is read, and a tie names no exception (forty-ninth session)."""

from __future__ import annotations

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import contradicts, evidence_sentences, option_terms, score_sentences, split_sentences
from pathatlas.agent.plan import answer_type, read_question
from pathatlas.agent.questions import Answer, Question, Quote
from pathatlas.agent.writing import rationale
from tests.agent.test_least_questions import pages

MALLORY = Question("Mallory-Denk bodies are NOT seen in which condition?", ["Alcoholic hepatitis", "Viral hepatitis"])
SEEN_NOT_IN = "Mallory-Denk bodies are seen in alcoholic hepatitis, not in viral hepatitis."
DNA_RNA = Question(
    "Which of the following is not a difference between DNA and RNA?",
    [
        "DNA contains thymine whereas RNA contains uracil",
        "DNA contains deoxyribose and RNA contains ribose",
        "DNA contains alternating sugar-phosphate molecules whereas RNA does not contain sugars",
        "RNA is single stranded and DNA is double stranded",
    ],
)
SINGLE_STRANDED = (  # the A&P book, p. 96
    "For one thing, unlike DNA, most types of RNA, including mRNA, are single-stranded and contain no complementary "
    "strand."
)
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


def said(question: Question, texts: tuple[str, ...]) -> list[float]:
    """Per option, how much of what is asked the first sentence says of it."""
    reading = read_question(question)
    scores = score_sentences(reading, question.text, question.options, evidence_sentences(pages(*texts)))
    return [scores.said(j, 0) for j in range(len(question.options))]


def test_x_not_y_answers_y_where_the_question_asks_what_it_is_not_seen_in():
    """The sentence said "seen" of alcoholic hepatitis only (the nearer name) and the question's "condition" was one
    more word to say: the two options tied, and the rationale named alcoholic hepatitis the exception and quoted the
    sentence as tying viral hepatitis to the question and as against the choice."""
    answer = OfflineAnswerer(encoder=None).answer(MALLORY, pages(SEEN_NOT_IN))
    assert answer.letter == "B" and answer.settled
    assert [[q.stance for q in own] for own in answer.quotes] == [["contradicts"], ["supports"]]
    assert "ties A to the question" in answer.rationale and "Against" not in answer.rationale
    assert answer_type(MALLORY.text) == "condition"
    assert answer_type("Which layer surrounds the route through which blood drains from the brain?") == "layer"


def test_a_clause_setting_two_options_apart_says_its_predicate_of_both():
    """ "Osteoclasts rather than osteoblasts resorb bone" said "resorb bone" of osteoblasts only, which it denies, and
    nothing of osteoclasts."""
    question = Question("Which cells resorb bone?", ["osteoblasts", "osteoclasts"])
    for text in ("Osteoclasts rather than osteoblasts resorb bone.", "Osteoclasts resorb bone, not osteoblasts."):
        assert said(question, (text,)) == [1.0, 1.0], text
        assert OfflineAnswerer(encoder=None).answer(question, pages(text)).letter == "B", text
    assert said(question, ("Osteoclasts resorb bone while osteoblasts build it.",)) == [0.0, 1.0]


def test_a_clause_saying_the_option_outside_its_negations_does_not_deny_it():
    """ "contain no complementary strand" denied "RNA is single stranded ...", which the same clause says: under
    "which is NOT a difference" the sentence was shown supporting it as the exception while the same kind of sentence
    spoke against the other options."""
    own = option_terms(read_question(DNA_RNA).focus, DNA_RNA.options)
    assert not contradicts(SINGLE_STRANDED, own[3])
    answer = OfflineAnswerer(encoder=None).answer(DNA_RNA, pages(SINGLE_STRANDED))
    assert [q.stance for q in answer.quotes[3]] == ["contradicts"]  # D is a difference: no exception
    osteo = option_terms("Which cells resorb bone?", ["osteoblasts", "osteoclasts"])
    assert contradicts("Unlike osteoblasts, osteoclasts resorb bone.", osteo[0])
    assert contradicts("Osteoblasts, which build bone, do not resorb bone.", osteo[0])
    clavicle = ["develops via intramembranous ossification", "is fully ossified at the time of birth"]
    birth = option_terms("The clavicle ________.", clavicle)[1]  # "birth" stands outside, "fully ossified" is denied
    assert contradicts("At birth, the skull and clavicles are not fully ossified nor are the sutures closed.", birth)


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
