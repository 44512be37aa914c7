"""QA benchmark: the same answerer without retrieval, with one search, and with the agentic loop.

Items come from MCQ / image-MCQ JSONL (``question``, ``options``, ``answer`` letter, optional ``image`` and
``gold``) or yes/no and open questions (``answer`` is text; scored by exact match and token recall). A bad row
is recorded as a failed item and the run goes on. Besides accuracy the report gives the accuracy on negated
questions (as the answerer read them with their evidence: ``evidence.read_with_evidence``), expected calibration
error with a reliability diagram, the paired bootstrap interval of each mode's difference from ``rag``, the LLM's
unusable replies, and (``folds``) the offline answerer's weights and open-answer confidence map refit on all but one
group of chapters and scored on the held-out one. Chance stands beside every mode, for accuracy and for evidence hit@5
(``hit_chance``), and a searching mode below no-rag or chance is marked (``mark_losses``).

Re-exported here: the entry points a caller runs, reports and compares a bench with (``ui/bench_mcp.py`` imports
them from the package); every other name is imported from the module that defines it.
"""

from pathatlas.agent.bench.compare import compare_qa_runs
from pathatlas.agent.bench.gold import check_sources
from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.plot import plot_qa
from pathatlas.agent.bench.report import markdown_report
from pathatlas.agent.bench.run import QABench

__all__ = ["QABench", "check_sources", "compare_qa_runs", "load_items", "markdown_report", "plot_qa"]
