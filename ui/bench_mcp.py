"""The QA benchmark through the MCP door: one ``ask`` tool call per question to a real ``pathatlas mcp`` process.

``MCPQABench`` is the QA benchmark (same loading, scoring and statistics) with one more mode, ``mcp``; run
beside ``agentic`` (the same agent in-process, what ``bench qa`` measures) it shows what the door costs.
For ``mcp``, evidence recall counts the cited evidence only: that is all the tool returns.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

from pathatlas.agent.answerers import create_answerer
from pathatlas.agent.bench.gold import check_sources
from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.run import QABench
from pathatlas.agent.questions import LETTERS, Answer, Evidence
from pathatlas.errors import PathAtlasError
from pathatlas.plugins import require
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Citation, Payload, source_id
from pathatlas.settings import Settings

MODE = "mcp"


def answer_of(document: dict[str, Any], sources: dict[str, str] | None = None) -> tuple[Answer, list[Evidence]]:
    """The answer and cited evidence back from the ask tool's JSON.

    ``choice`` is the chosen option's index; documents from before the per-option answer schema carry the
    letter in ``answer`` and the text in ``answer_text``. ``sources`` (source id -> the index's key) gives each
    citation back its full source, which the tool shows by file name only: gold pages are matched by their book.
    """
    sources = sources or {}
    if "choice" in document:
        choice, text = document["choice"], document["answer"]
    else:
        letter = document.get("answer")
        choice, text = (LETTERS.index(letter) if letter else None), document.get("answer_text", "")
    evidence = [
        Evidence(
            c["evidence"],
            "",
            "",
            Citation.from_dict({**c, "source": sources.get(c.get("source_id"), c["source"])}),
            rank,
            payload=Payload(case=c.get("case")),
        )
        for rank, c in enumerate(document["citations"], start=1)
    ]
    answer = Answer(choice, text or "", document["confidence"], document.get("rationale", ""), [e.id for e in evidence])
    answer.settled = document.get("settled", True)
    return answer, evidence


class MCPQABench(QABench):
    def __init__(self, index: Index, settings: Settings, call_tool):
        answerer = create_answerer(settings.answerer, settings, index.encoder)
        super().__init__(index, answerer, settings.agent_rounds, settings.agent_k)
        self.call_tool = call_tool
        """``call_tool(name, arguments)`` -> the MCP ``CallToolResult``."""
        self.sources = {source_id(key): key for key in index.manifest}

    def ask(self, item, mode: str) -> tuple[Answer, list[Evidence], None]:
        if mode != MODE:
            return super().ask(item, mode)
        arguments: dict[str, Any] = {"question": item.question.text, "options": item.question.options}
        if item.image_path is not None:
            arguments["image_base64"] = base64.b64encode(item.image_path.read_bytes()).decode()
        result = self.call_tool("ask", arguments)
        text = result.content[0].text if result.content else ""
        if result.is_error:
            raise PathAtlasError(text)  # recorded as a failed item, as in-process errors are
        return (*answer_of(json.loads(text), self.sources), None)  # the passage support stays inside the server


def same_answers(result: dict[str, Any], mode: str, other: str) -> dict[str, int]:
    """How many questions got the same answer in two modes (by the per-item rows of the run)."""
    answers = {m: {r["id"]: r["answer"] for r in result["items"] if r.get("mode") == m} for m in (mode, other)}
    common = answers[mode].keys() & answers[other].keys()
    return {"n": len(common), "same": sum(answers[mode][i] == answers[other][i] for i in common)}


def run_mcp_bench(settings: Settings, questions: Path, limit: int | None, compare: bool) -> dict[str, Any]:
    """Start ``pathatlas mcp`` on the index (stdio), ask every question through it, score like ``bench qa``.

    ``run`` is the record ``bench qa`` writes (``run_record``: the questions' sha256, the code, the index, the
    settings). Its ``query_vectors`` says how text queries were encoded (``settle_query_vectors``), settled before the
    server loads the model, so that it and the in-process agent encode them alike whatever the model cache held."""
    require("mcp", "mcp")
    from anyio.from_thread import start_blocking_portal
    from mcp import Client, StdioServerParameters

    from pathatlas.retrieval.bench.common import run_record, settle_query_vectors

    index = Index.open(settings.index_dir, settings)
    items, failures = load_items(questions, settings.max_image_pixels, limit=limit)  # the first rows, as bench qa
    modes = ["agentic", MODE] if compare else [MODE]
    check_sources(items, index, questions, modes)
    options = {
        "answerer": settings.answerer,
        "model": settings.llm_model if settings.answerer == "llm" else None,
        "k": settings.agent_k,
        "rounds": settings.agent_rounds,
        "limit": limit,
        "modes": modes,
        "query_vectors": settle_query_vectors(index.encoder),
    }
    run = run_record({"questions": questions}, index, options)
    server = StdioServerParameters(
        command=sys.executable,
        args=["-c", "from pathatlas.ui.cli import app; app()", "mcp", "--index", str(settings.index_dir)],
        env={**os.environ, "PATHATLAS_ANSWERER": settings.answerer},
    )
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(Client(server)) as client:
        bench = MCPQABench(index, settings, lambda name, arguments: portal.call(client.call_tool, name, arguments))
        result = {"run": run, **bench.run(items, failures, modes)}
    if compare:
        result["mcp_vs_agentic"] = same_answers(result, MODE, "agentic")
    return result
