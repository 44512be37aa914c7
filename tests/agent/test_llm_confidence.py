"""The LLM answerer's confidence and ``settled`` are earned from the evidence, not taken from the model's reply, and a
server's failures are told in the user's terms."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_openai import ChatOpenAI

from pathatlas.agent.answerers import create_answerer
from pathatlas.agent.answerers.base import AnswerError
from pathatlas.agent.answerers.llm import LLMAnswerer, parse_reply
from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.graph import Agent
from pathatlas.agent.questions import Answer, Evidence, Question
from pathatlas.agent.writing import annotate
from pathatlas.retrieval.records import Citation, Payload
from pathatlas.retrieval.search import Searcher
from tests.servers import chat_model

BONE = Question("Which cells break down bone?", ["Osteoblasts", "Osteoclasts"])
OPEN = Question("What do osteoclasts break down?", [])


def page(eid: str, text: str, rank: int = 1) -> Evidence:
    return Evidence(eid, "page", text, Citation("book.pdf", page=rank), rank, payload=Payload(kind="page"))


FOUND = [
    page("p1", "Osteoclasts break down bone; osteoclasts resorb bone matrix.", 1),
    page("p2", "Osteoblasts build new bone matrix.", 2),
]


def llm_answer(reply: dict, question: Question = BONE, found: list[Evidence] = FOUND) -> Answer:
    model = FakeListChatModel(responses=[json.dumps(reply)])
    return LLMAnswerer(model, retries=0).answer(question, found)


def test_a_wrong_answer_claiming_certainty_gets_what_the_evidence_gives_it():
    """A wrong "A" at "confidence": 1.5 came back at 1.0 and settled."""
    answer = llm_answer({"answer": "A", "rationale": "They remodel bone.", "evidence": [], "confidence": 1.5})
    evidence = OfflineAnswerer(encoder=None).answer(BONE, FOUND).scores
    assert answer.letter == "A" and answer.confidence == evidence[0] < 0.5 and not answer.settled
    assert answer.scores == evidence, "the options are scored by the evidence"
    assert "They remodel bone. (stated confidence 1.00)" in answer.rationale, "the model's own figure stays visible"


def test_a_right_answer_without_a_stated_confidence_is_settled_as_the_evidence_settles_it():
    """A README-format reply without "confidence" got 0.0 and "the evidence does not settle this"."""
    offline = OfflineAnswerer(encoder=None).answer(BONE, FOUND)
    answer = llm_answer({"answer": "B", "rationale": "They resorb it.", "evidence": ["p1"]})
    assert offline.settled and answer.letter == "B" and answer.settled
    assert answer.confidence == pytest.approx(offline.confidence, abs=1e-4), "the evidence's, to its score's 4 places"
    assert "stated confidence" not in answer.rationale


def test_a_model_less_sure_than_the_evidence_lowers_the_confidence():
    answer = llm_answer({"answer": "B", "evidence": ["p1"], "confidence": 0.3})
    assert answer.confidence == 0.3 and not answer.settled


def test_an_answer_without_evidence_is_never_settled():
    """The no-retrieval baseline: nothing was found to settle it, however sure the model is."""
    answer = llm_answer({"answer": "B", "evidence": [], "confidence": 1.0}, found=[])
    assert answer.letter == "B" and not answer.settled and answer.confidence < 1.0


def test_an_open_answer_citing_nothing_is_never_settled():
    """An open question came back settled at the model's 0.7 with no citation."""
    found = [page("p1", "Osteoclasts break down bone matrix.")]
    backed = OfflineAnswerer(encoder=None).answer(OPEN, found).confidence
    answer = llm_answer({"answer": "Bone matrix", "evidence": [], "confidence": 0.7}, OPEN, found)
    assert answer.choice is None and answer.confidence == backed < 0.7 and not answer.settled
    assert answer.rationale == "(stated confidence 0.70)"


def test_any_answerers_open_answer_citing_nothing_is_not_settled():
    uncited, cited = Answer(None, "Bone matrix", 0.9), Answer(None, "Bone matrix", 0.9, cited=["p1"])
    for answer in (uncited, cited):
        annotate(answer, OPEN, FOUND)
    assert (uncited.settled, cited.settled) == (False, True)


def test_an_llm_answer_read_again_keeps_one_model_rationale():
    """The answerer annotates its answer and the agent annotates it again: the model's words are added once."""
    answer = llm_answer({"answer": "B", "rationale": "They resorb it.", "evidence": ["p1"], "confidence": 0.9})
    once = answer.rationale
    annotate(answer, BONE, FOUND)
    assert answer.rationale == once and once.count("Model:") == 1


def test_the_agent_reports_the_earned_confidence(demo_index):
    question = Question(
        "Which cells show a clear perinuclear halo and a raisinoid nucleus in HPV infection?",
        ["Langhans giant cells", "Koilocytes", "Type II pneumocytes", "Goblet cells"],
    )
    model = FakeListChatModel(responses=[json.dumps({"answer": "A", "evidence": [], "confidence": 1.5})])
    result = Agent(Searcher(demo_index), LLMAnswerer(model, retries=0, encoder=demo_index.encoder)).ask(question)
    document = result.to_dict()
    scores = [option["score"] for option in document["options"]]
    assert document["choice"] == 0 and document["confidence"] <= scores[0] < max(scores)
    assert not document["settled"]


@pytest.mark.parametrize(
    ("value", "stated"),
    [(0.4, 0.4), (1.5, 1.0), (-2, 0.0), ("0.6", 0.6), (None, None), ("high", None), (float("nan"), None), (True, None)],
)
def test_a_stated_confidence_is_clamped_and_a_missing_one_is_none(value, stated):
    reply = {"answer": "B", "evidence": []} | ({} if value is None else {"confidence": value})
    assert parse_reply(json.dumps(reply), BONE.options, set())[4] == stated


def mocked_answerer(respond) -> LLMAnswerer:
    """The llm answerer on an OpenAI client whose every request ``respond(request)`` answers (an httpx.Response)."""
    client = httpx.Client(transport=httpx.MockTransport(respond))
    model = ChatOpenAI(model="fake", base_url="http://llm.test/v1", api_key="x", max_retries=0, http_client=client)
    return LLMAnswerer(model, retries=0, server_retries=0, where="openai model 'fake'")


NO_CHOICES = {"id": "x", "object": "chat.completion", "created": 0, "model": "fake", "choices": []}


@pytest.mark.parametrize(
    ("response", "said"),
    [
        (httpx.Response(200, text="this is not json", headers={"content-type": "application/json"}), "not JSON"),
        (httpx.Response(200, json=NO_CHOICES), "held no choices"),
    ],
    ids=["not-json", "no-choices"],
)
def test_a_reply_the_client_cannot_use_is_said_in_the_users_terms(response, said):
    """These said "failed: Expecting value: line 1 column 1 (char 0)" and "failed: list index out of range"."""
    with pytest.raises(AnswerError) as error:
        mocked_answerer(lambda request: response).answer(BONE, FOUND)
    message = str(error.value)
    assert message.startswith("openai model 'fake' failed: the") and said in message and "\n" not in message


def test_a_timeout_names_the_setting_it_ran_out_of(settings):
    """A slow server's timeout said only "Request timed out."."""
    changed = {"llm_api_key": "test", "llm_timeout": 0.5, "llm_server_retries": 0}
    with chat_model({"answer": "B"}, lambda: (time.sleep(1.0), (200, {}))[1]) as url:
        answerer = create_answerer("llm", settings.model_copy(update={**changed, "llm_base_url": url}), encoder=None)
        with pytest.raises(AnswerError, match=r"failed: no reply within PATHATLAS_LLM_TIMEOUT=0\.5 s$"):
            answerer.answer(BONE, [])


def test_an_ollama_server_that_does_not_answer_times_out_too(settings):
    """ChatOllama was made without PATHATLAS_LLM_TIMEOUT: a hung Ollama held the question (and the server's one
    answering lane) for ever."""
    pytest.importorskip("langchain_ollama")
    changed = {"llm_provider": "ollama", "llm_model": "fake", "llm_timeout": 0.5, "llm_server_retries": 0}
    with chat_model({"answer": "B"}, lambda: (time.sleep(3.0), (200, {}))[1]) as url:
        answerer = create_answerer("llm", settings.model_copy(update={**changed, "llm_base_url": url}), encoder=None)
        started = time.monotonic()
        with pytest.raises(AnswerError, match=r"no reply within PATHATLAS_LLM_TIMEOUT=0\.5 s$"):
            answerer.answer(BONE, [])
        assert time.monotonic() - started < 2.5


def test_the_agents_llm_answer_is_scored_as_the_offline_agent_scores_the_same_searches(demo_index):
    """The agent gave its passage searches to the offline answerer alone: an LLM answer's earned confidence came
    from one search's weights (0.42 where the offline agent said 0.28 for the same choice)."""
    question = Question(
        "Which cells show a clear perinuclear halo and a raisinoid nucleus in HPV infection?",
        ["Langhans giant cells", "Koilocytes", "Type II pneumocytes", "Goblet cells"],
    )
    model = FakeListChatModel(responses=[json.dumps({"answer": "B", "evidence": []})])
    llm = LLMAnswerer(model, retries=0, encoder=demo_index.encoder)
    by_llm = Agent(Searcher(demo_index), llm).ask(question).to_dict()
    offline = Agent(Searcher(demo_index), OfflineAnswerer(demo_index.encoder)).ask(question).to_dict()
    assert [o["score"] for o in by_llm["options"]] == [o["score"] for o in offline["options"]]
    assert by_llm["choice"] == offline["choice"] == 1 and by_llm["confidence"] == offline["confidence"]
