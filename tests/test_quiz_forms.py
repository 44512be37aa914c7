"""A lecturer's quiz forms: "True or false: ..." with the options True/False was read as asking for the exception (its
"false") and its options found as terms ("true ribs", "false pelvis"); "Both A and B", "A and C", "Neither" were read
as options of their own words, and an answer beside them came back settled ("A. Oxytocin", its own quote naming ADH
too, with "Both A and B" the key); "Which TWO ..." was settled on one option. Evidence is faked: no models."""

from __future__ import annotations

import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.bench import Item, shuffle_options
from pathatlas.agent.evidence import REFERS_TO_OTHERS, referred_options
from pathatlas.agent.graph import answer_document
from pathatlas.agent.plan import follow_ups, read_question, with_options
from pathatlas.agent.questions import Answer, Evidence, Question
from pathatlas.retrieval.records import Citation, Payload

LUNG = "The right lung consists of three lobes: the superior, middle, and inferior lobes."
RIBS = "Ribs 1 to 7 are classified as true ribs, and ribs 8 to 12 are called false ribs."
PELVIS = "The false pelvis is bounded by the alae of the ilium and holds no pelvic organs."
POSTERIOR = "Which hormone is released by the posterior pituitary?"
OXYTOCIN = "The posterior pituitary releases oxytocin into the blood."
ADH = "The posterior pituitary releases antidiuretic hormone into the blood."
GROWTH = "The anterior pituitary releases growth hormone into the blood."
KIDNEY = "Antidiuretic hormone controls water reabsorption in the kidney."


def page(evidence_id: str, text: str, rank: int) -> Evidence:
    return Evidence(evidence_id, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


def answered(question: Question, texts: list[str]) -> dict:
    """The offline answer document from pages of ``texts``, ranked in order."""
    found = [page(f"p{rank}", text, rank) for rank, text in enumerate(texts, start=1)]
    return answer_document(question, OfflineAnswerer(encoder=None).answer(question, found), found, [])


# -- 1. true or false --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lead", ["True or false:", "TRUE/FALSE:", "T/F:", "False or true?"])
def test_true_or_false_asks_about_the_statement_not_its_exception(lead):
    reading = read_question(Question(f"{lead} The right lung has three lobes.", ["True", "False"]))
    assert not reading.negated and reading.verdicts
    assert reading.focus == "The right lung has three lobes."


def test_a_negation_inside_the_statement_is_the_statement_s_and_false_still_negates_a_question():
    statement = Question("T/F: Mature red blood cells do not contain a nucleus.", ["true", "false"])
    assert not read_question(statement).negated
    assert read_question(Question("Which statement is false?", ["Bone is alive", "Bone is inert"])).negated


def test_verdicts_are_not_searched_for():
    question = Question("True or false: The right lung has three lobes.", ["True", "False"])
    assert with_options(question) == "The right lung has three lobes."
    assert follow_ups(question, Answer(1, "False", 0.5, scores=[0.5, 0.5]), 1) == []


@pytest.mark.parametrize("options", [["True", "False"], ["yes", "NO"], ["Correct", "Incorrect"]])
def test_verdict_options_tie_never_settle_and_show_what_the_book_says_of_the_statement(options):
    document = answered(Question("True or false: The right lung has three lobes.", options), [RIBS, PELVIS, LUNG])
    assert [o["score"] for o in document["options"]] == [0.5, 0.5] and document["confidence"] == 0.5
    assert not document["settled"]
    assert "says true or false, or yes or no, of a statement" in document["rationale"]
    assert LUNG in document["rationale"], document["rationale"]
    for option in document["options"]:
        quotes = {q["quote"]: q["stance"] for q in option["evidence"]}
        assert quotes.get(LUNG) == "related" and RIBS not in quotes and PELVIS not in quotes, quotes


# -- 2. options meaning other options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option",
    ["Both A and B", "A and C", "A, B, and C", "both 1 and 3", "All of the above", "All of these", "None of the above",
     "Neither", "Neither A nor B", "all the above", "A & D only"],
)  # fmt: skip
def test_options_naming_other_options_refer_to_them(option):
    assert REFERS_TO_OTHERS.match(option)


@pytest.mark.parametrize("option", ["A", "Vitamin A and D", "11 and 12", "12 pairs", "both reproduction and growth"])
def test_options_of_their_own_words_do_not(option):
    assert not REFERS_TO_OTHERS.match(option)


def test_what_each_referring_option_names():
    options = ["Oxytocin", "ADH", "Both A and B", "Growth hormone", "None of the above", "All of the above"]
    assert referred_options(POSTERIOR, options) == {2: (0, 1), 4: (), 5: (0, 1, 3)}
    assert referred_options(POSTERIOR, ["All of these", "Oxytocin", "ADH"]) == {0: (1, 2)}
    assert referred_options(POSTERIOR, ["Oxytocin", "ADH", "1 and 2"]) == {2: (0, 1)}
    stem_items = "Which two are parts of the brainstem? (1) midbrain (2) cerebellum (3) medulla oblongata"
    assert referred_options(stem_items, ["1 and 2", "1 and 3", "2 and 3"]) == {}, "they name the question's items"
    assert referred_options(POSTERIOR, ["Oxytocin", "ADH", "Both A and F"]) == {}, "no option F"


def test_a_combination_whose_options_each_settle_is_the_answer():
    question = Question(POSTERIOR, ["Oxytocin", "Antidiuretic hormone", "Both A and B", "Growth hormone"])
    document = answered(question, [OXYTOCIN, ADH, GROWTH])
    assert document["choice"] == 2 and document["settled"], document["rationale"]
    assert OXYTOCIN in document["rationale"] and ADH in document["rationale"]
    assert document["confidence"] > max(o["score"] for o in document["options"] if o["label"] != "C")


def test_an_answer_beside_a_combination_it_cannot_rule_out_is_not_settled():
    question = Question(POSTERIOR, ["Oxytocin", "Antidiuretic hormone", "Both A and B", "Growth hormone"])
    document = answered(question, [OXYTOCIN, GROWTH, KIDNEY])
    assert document["choice"] == 0 and not document["settled"]
    assert 'cannot rule out "C. Both A and B"' in document["rationale"], document["rationale"]


def test_none_of_the_above_is_not_chosen_and_keeps_an_answer_unsettled():
    plain = answered(Question(POSTERIOR, ["Oxytocin", "Growth hormone"]), [OXYTOCIN, GROWTH])
    assert plain["choice"] == 0 and plain["settled"], "the same evidence settles A without it"
    document = answered(Question(POSTERIOR, ["Oxytocin", "Growth hormone", "None of the above"]), [OXYTOCIN, GROWTH])
    assert document["choice"] == 0 and not document["settled"]
    assert 'cannot rule out "C. None of the above"' in document["rationale"], document["rationale"]


def test_shuffling_keeps_options_naming_others_in_place():
    options = ["Oxytocin", "ADH", "Both A and B", "Growth hormone", "Neither", "A and D"]
    item = Item("q", Question(POSTERIOR, options), "mcq", "C", {}, "g")
    for seed in range(5):
        shuffled = shuffle_options(item, seed).question.options
        assert [shuffled[k] for k in (2, 4, 5)] == ["Both A and B", "Neither", "A and D"], shuffled
        assert [shuffled[k] for k in (0, 1, 3)] == ["Oxytocin", "ADH", "Growth hormone"], "named by their letters"
    more = [*options[:3], "Growth hormone", "Prolactin", "Insulin"]
    lettered = Item("q", Question(POSTERIOR, more), "mcq", "C", {}, "g")
    orders = {tuple(shuffle_options(lettered, seed).question.options[3:]) for seed in range(8)}
    assert all(shuffle_options(lettered, seed).question.options[:3] == options[:3] for seed in range(8))
    assert len(orders) > 1, "the options no other names still move"


# -- 3. questions asking for several answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "several"),
    [
        ("Select the TWO bones that form the forearm.", "two"),
        ("Which two of these bones form the forearm?", "two"),
        ("Which bones form the forearm? Choose 2.", "2"),
        ("Which two-headed muscle flexes the elbow?", ""),
    ],
)
def test_a_question_asking_for_several_answers_is_read_so(text, several):
    assert read_question(Question(text, ["Radius", "Ulna"])).several == several


def test_one_option_for_a_question_asking_for_two_is_not_settled():
    question = Question("Which TWO hormones are released by the posterior pituitary?", ["Oxytocin", "Growth hormone"])
    document = answered(question, [OXYTOCIN, GROWTH])
    assert document["choice"] == 0 and not document["settled"]
    assert "The question asks for two answers and is answered as one option." in document["rationale"]
