"""A lecturer's quiz forms: "True or false: ..." with the options True/False was read as asking for the exception (its
"false") and its options found as terms ("true ribs", "false pelvis"); "Both A and B", "A and C", "Neither" were read
as options of their own words, and an answer beside them came back settled ("A. Oxytocin", its own quote naming ADH
too, with "Both A and B" the key); "Which TWO ..." was settled on one option. Evidence is faked: no models."""

from __future__ import annotations

import numpy as np
import pytest

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.bench.items import Item, shuffle_options
from pathatlas.agent.graph import answer_document
from pathatlas.agent.plan import REFERS_TO_OTHERS, follow_ups, read_question, referred_options, with_options
from pathatlas.agent.questions import Answer, Evidence, Question
from pathatlas.agent.scoring import best_option
from pathatlas.agent.writing import UNNAMED_CONFIDENCE
from pathatlas.retrieval.records import Citation, Payload

LUNG = "The right lung consists of three lobes: the superior, middle, and inferior lobes."
RIBS = "Ribs 1 to 7 are classified as true ribs, and ribs 8 to 12 are called false ribs."
PELVIS = "The false pelvis is bounded by the alae of the ilium and holds no pelvic organs."
POSTERIOR = "Which hormone is released by the posterior pituitary?"
OXYTOCIN = "The posterior pituitary releases oxytocin into the blood."
ADH = "The posterior pituitary releases antidiuretic hormone into the blood."
GROWTH = "The anterior pituitary releases growth hormone into the blood."
KIDNEY = "Antidiuretic hormone controls water reabsorption in the kidney."
GLUCOSE = "Which hormone lowers blood glucose?"
INSULIN = "Insulin lowers blood glucose by moving glucose into cells."
GLUCAGON = "Glucagon stimulates mechanisms that increase blood glucose levels."
CORTISOL = "Cortisol is released by the adrenal cortex in response to stress."
VITAMINS = "Which vitamins are fat-soluble?"
STEM_ITEMS = "Which are parts of the brainstem? (1) midbrain (2) cerebellum (3) pons (4) thalamus"


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


@pytest.mark.parametrize(
    "options",
    [
        ["True", "False", "Not stated"],
        ["true", "false", "Cannot be determined"],
        ["True", "False", "Insufficient information"],
        ["T", "F"],
        ["Y", "N"],
        ["t.", "f."],
    ],
)
def test_an_undetermined_option_and_lettered_verdicts_are_verdicts_and_the_not_stays_the_statement_s(options):
    for text in [
        "True or false: The right lung does not have three lobes.",
        "The right lung does not have three lobes.",
    ]:
        reading = read_question(Question(text, options))
        assert reading.verdicts and not reading.negated, text
    assert with_options(Question("The left lung has three lobes.", options)) == "The left lung has three lobes."


@pytest.mark.parametrize("options", [["T", "F", "G"], ["F", "Cl"], ["Not stated", "Cannot be determined"], ["N", "P"]])
def test_letters_and_undetermined_answers_alone_are_not_verdicts(options):
    assert not read_question(Question("Which element is a halogen?", options)).verdicts


def test_verdicts_are_not_searched_for():
    question = Question("True or false: The right lung has three lobes.", ["True", "False"])
    assert with_options(question) == "The right lung has three lobes."
    assert follow_ups(question, Answer(1, "False", 0.5, scores=[0.5, 0.5]), 1) == []


@pytest.mark.parametrize(
    "options",
    [["True", "False"], ["yes", "NO"], ["Correct", "Incorrect"], ["True", "False", "Not stated"], ["T", "F"]],
)
def test_verdict_options_tie_never_settle_and_show_what_the_book_says_of_the_statement(options):
    document = answered(Question("True or false: The right lung has three lobes.", options), [RIBS, PELVIS, LUNG])
    chance = round(1 / len(options), 4)
    assert [o["score"] for o in document["options"]] == [chance] * len(options), document["options"]
    assert document["confidence"] == pytest.approx(chance, abs=1e-4)
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
    assert referred_options(POSTERIOR, options) == {2: (0, 1), 4: (), 5: ()}
    assert referred_options(POSTERIOR, ["All of these", "Oxytocin", "ADH"]) == {0: ()}
    assert referred_options(POSTERIOR, ["Oxytocin", "ADH", "1 and 2"]) == {2: (0, 1)}
    assert referred_options(STEM_ITEMS, ["1 and 2", "1 and 3", "2 and 3"]) == {}, "they name the question's items"
    assert referred_options(POSTERIOR, ["Oxytocin", "ADH", "Both A and F"]) == {}, "no option F"


def test_a_combination_is_not_chosen_where_a_sentence_names_each_option_it_names():
    """A sentence naming an option does not say it answers the question: "Glucagon ... increase blood glucose"
    settled B for "lowers blood glucose", and "Both A and B" was chosen, settled, at 0.94."""
    question = Question(GLUCOSE, ["Insulin", "Glucagon", "Both A and B", "Cortisol"])
    document = answered(question, [INSULIN, GLUCAGON, CORTISOL])
    assert document["choice"] != 2 and not document["settled"], document["rationale"]
    assert 'cannot rule out "C. Both A and B"' in document["rationale"], document["rationale"]
    assert document["options"][2]["score"] < max(o["score"] for o in document["options"])


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
    assert document["confidence"] <= UNNAMED_CONFIDENCE, "an unsettled answer's most: it cannot tell A from none"
    assert 'cannot rule out "C. None of the above"' in document["rationale"], document["rationale"]


def test_an_option_meaning_others_is_not_the_exception_of_a_negated_question():
    """ "Which is NOT ... ? ... All of the above": no sentence names it, so as the least supported option it was chosen
    as the exception; it takes no score now, and the answer still says it cannot rule it out."""
    question = Question("Which hormone is NOT released by the posterior pituitary?", ["Oxytocin", "Growth hormone",
                        "Antidiuretic hormone", "All of the above"])  # fmt: skip
    document = answered(question, [OXYTOCIN, ADH, GROWTH])
    assert document["choice"] != 3 and document["options"][3]["score"] == 0.0, document["options"]
    assert not document["settled"] and 'cannot rule out "D. All of the above"' in document["rationale"]


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


@pytest.mark.parametrize(
    ("question", "options"),
    [
        (VITAMINS, ["B and C", "A and D", "C only", "B12 only"]),
        (VITAMINS, ["A and C", "A, D, E and K", "B and C", "B12 and folate"]),
        (STEM_ITEMS, ["1 and 3", "2 and 4", "1, 2 and 3", "4 only"]),
    ],
)
def test_letters_that_are_content_make_an_ordinary_option_moved_by_shuffling(question, options):
    """ "A and D" of vitamins names vitamins, not options: its letters are no options of their own words."""
    assert referred_options(question, options) == {}
    item = Item("q", Question(question, options), "mcq", "B", {}, "g")
    places = {shuffle_options(item, seed).question.options.index(options[1]) for seed in range(8)}
    assert len(places) > 1, "B moves"
    assert best_option(np.array([0.1, 0.4, 0.1, 0.4]), options, question) == 1, "a tie goes by its words, not last"


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


@pytest.mark.parametrize(
    "options",
    [
        ["Radius and ulna", "Tibia and fibula", "Humerus and radius", "Femur and tibia"],
        ["Radius and ulna", "Tibia, fibula and femur", "Humerus & radius", "None of the above"],
    ],
)
def test_a_question_asking_for_two_over_options_that_are_each_a_pair_asks_for_one(options):
    assert read_question(Question("Which two bones form the forearm?", options)).several == ""
    assert read_question(Question("Which two bones form the forearm?", ["Radius", *options[1:]])).several == "two"


def test_one_option_for_a_question_asking_for_two_is_not_settled():
    question = Question("Which TWO hormones are released by the posterior pituitary?", ["Oxytocin", "Growth hormone"])
    document = answered(question, [OXYTOCIN, GROWTH])
    assert document["choice"] == 0 and not document["settled"]
    assert "The question asks for two answers and is answered as one option." in document["rationale"]
