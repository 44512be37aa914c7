"""A sentence listing things each with what it says of it ("Ziehl-Neelsen for acid-fast bacilli and Grocott
methenamine silver for fungi") says each item's words of its own thing, not of the next one named, and the answer
follows the option it supports; beside a choice shown with related quotes only, no other option's quote is shown
supporting unless it settles. Evidence is faked: no models."""

from __future__ import annotations

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.evidence import evidence_sentences, paired_items, score_sentences, shown_stances
from pathatlas.agent.graph import answer_document
from pathatlas.agent.plan import read_question
from pathatlas.agent.questions import Answer, Evidence, Question, Quote
from pathatlas.retrieval.records import Citation, Payload

STAINS = "Special stains help: Ziehl-Neelsen for acid-fast bacilli and Grocott methenamine silver for fungi."
ACID_FAST = Question(
    "Which stain helps find acid-fast bacilli in a granuloma?", ["Ziehl-Neelsen", "Grocott methenamine silver", "PAS"]
)


def page(text: str, rank: int = 1) -> Evidence:
    return Evidence(f"p{rank}", "page", text, Citation("primer.pdf", page=rank), rank, payload=Payload(kind="page"))


def said_of_each(question: Question, text: str) -> list[float]:
    """Per option, how much of what is asked the one sentence of ``text`` says of it."""
    reading = read_question(question)
    scores = score_sentences(reading, question.text, question.options, evidence_sentences([page(text)]))
    return [scores.said(j, 0) for j in range(len(question.options))]


def test_a_listed_pair_says_its_words_of_its_own_item():
    """ "bacilli" stands next to "Grocott", yet the list says it of Ziehl-Neelsen: read by nearness alone, the silver
    stain was said a third of what is asked (and answered, at 0.64)."""
    said = said_of_each(ACID_FAST, STAINS)
    assert said[0] > 0.5 and said[1] == 0.0, said


def test_pairs_listed_with_commas_or_a_shared_verb_are_read_alike():
    iron = Question("Which stain shows hemosiderin in macrophages?", ["Perls Prussian blue", "Congo red"])
    listed = "Perls Prussian blue for hemosiderin in macrophages, Congo red for amyloid in vessels."
    assert said_of_each(iron, listed)[1] == 0.0, "macrophages stand next to Congo red"
    verb = "Perls Prussian blue stains hemosiderin in macrophages and Congo red stains amyloid in vessels."
    assert said_of_each(iron, verb)[1] == 0.0


def test_only_a_list_repeating_its_linking_word_is_cut():
    assert paired_items("Ziehl-Neelsen for acid-fast bacilli, Grocott for fungi and PAS for glycogen") == [
        "Ziehl-Neelsen for acid-fast bacilli",
        "Grocott for fungi",
        "PAS for glycogen",
    ]
    compound = "Osteoblasts and osteocytes of the periosteum do not resorb bone"
    assert paired_items(compound) == [compound], "a compound subject is no list of pairs"
    placed = "Osteoclasts resorb bone in the epiphysis and in the diaphysis"
    assert paired_items(placed) == [placed], "an item opening with the repeated word names no thing of its own"
    named = "stem cells, which give rise to red blood cells, white blood cells, and platelets"
    assert paired_items(named) == [named], "a word of names the items share links nothing"


def test_the_answer_is_the_option_the_listed_pair_supports():
    """The walkthrough's answer: B at 0.64 while A's quote was shown supporting and B's only related."""
    found = [page(STAINS)]
    answer = OfflineAnswerer(encoder=None).answer(ACID_FAST, found)
    document = answer_document(ACID_FAST, answer, found, [])
    stances = [[q["stance"] for q in option["evidence"]] for option in document["options"]]
    assert answer.letter == "A", answer.scores
    assert stances[:2] == [["supports"], ["related"]], stances


def quote(covers: float, text: str) -> Quote:
    """A supporting quote saying ``covers`` of what is asked (settling from half)."""
    return Quote(text, page(text), "supports", 0.1, settles=covers >= 0.5, covers=covers)


def test_beside_an_unsupported_choice_only_a_settling_quote_of_another_option_is_shown_supporting():
    """The weighing chose B: A's quote saying a third of what is asked, settling nothing, was a green "supports"
    beside B's grey "related", a contradiction shown to the student."""
    most, less = [quote(0.34, "Said of A.")], [quote(0.2, "Said of B.")]
    assert shown_stances([most, less], choice=1) == [["related"], ["related"]]
    assert shown_stances([most, less], choice=0) == [["supports"], ["related"]], "the choice's own still says most"
    assert shown_stances([most, less]) == [["supports"], ["related"]], "no choice: as before"
    settling = [quote(0.6, "Said in full of A.")]
    assert shown_stances([settling, less], choice=1) == [["supports"], ["related"]], "a settling rival contests it"
    backed = [Quote("Said of B.", page("Said of B."), "supports", 0.1, settles=True, covers=0.2)]
    assert shown_stances([most, backed], choice=1) == [["supports"], ["supports"]], "beside a supported choice"


def test_the_answer_document_shows_stances_beside_its_choice():
    question = Question("Which cells resorb bone?", ["Osteoclasts", "Osteoblasts"])
    quotes = [[quote(0.34, "Osteoclasts line bone.")], [quote(0.2, "Osteoblasts make bone.")]]
    answer = Answer(1, "Osteoblasts", 0.55, scores=[0.45, 0.55], quotes=quotes, settled=False)
    document = answer_document(question, answer, [q.evidence for own in quotes for q in own], [])
    assert [[q["stance"] for q in option["evidence"]] for option in document["options"]] == [["related"], ["related"]]
