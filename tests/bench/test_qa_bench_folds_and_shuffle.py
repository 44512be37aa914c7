"""``bench qa`` review findings: --folds only for an answerer with something to refit, a kind answered in one chapter
gets a note instead of a crash, --shuffle-options, and the QA sections of BENCHMARKS.md cite code that exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from pathatlas.agent.answerers import answerer_class
from pathatlas.agent.answerers.base import Answerer
from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.bench.compare import compare_qa_runs
from pathatlas.agent.bench.folds import check_refit
from pathatlas.agent.bench.items import as_filed, load_items, shuffle_options
from pathatlas.agent.bench.run import QABench
from pathatlas.agent.plan import plan
from pathatlas.agent.questions import Answer, Question
from pathatlas.agent.scoring import best_option
from pathatlas.errors import BadInputError
from pathatlas.retrieval.search import Searcher
from tests.helpers import run_cli

REPO = Path(__file__).resolve().parents[2]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


HALO = {"question": "Which cells have a perinuclear halo?", "options": ["Langhans cells", "Koilocytes"], "answer": "B"}


def halo_items(folder: Path, count: int) -> list:
    """``count`` copies of the halo question with four options (B, Koilocytes, the answer), all in chapter "c", as
    ``load_items`` reads them from a file written in ``folder``."""
    four = ["Langhans cells", "Koilocytes", "Goblet cells", "Plasma cells"]
    rows = [HALO | {"id": f"q{n}", "chapter": "c", "options": four} for n in range(count)]
    items, _ = load_items(write_rows(folder / "q.jsonl", rows), 1)
    return items


class Counting(Answerer):
    """An answerer with no offline knobs (as an LLM): picks the option named ``pick``, else the first, and counts
    the questions it was asked."""

    name = "counting"

    def __init__(self, pick: str = ""):
        self.pick, self.asked = pick, 0

    def answer(self, question, evidence):
        self.asked += 1
        choice = question.options.index(self.pick) if self.pick in question.options else 0
        return Answer(choice, question.options[choice], 0.6)


def test_folds_are_refused_in_one_line_for_an_answerer_with_nothing_to_refit(quick_index, tmp_path):
    items, _ = load_items(write_rows(tmp_path / "q.jsonl", [HALO | {"id": f"q{n}", "chapter": n} for n in range(4)]), 1)
    answerer = Counting()
    with pytest.raises(BadInputError, match="^--folds refits the offline answerer's .*; answerer 'counting' has"):
        QABench(quick_index, answerer).run(items, [], modes=("rag",), folds=2)
    assert answerer.asked == 0, "refused before any question was asked"
    check_refit(Counting, 0)  # no folds, nothing to refuse
    check_refit(answerer_class("py:pathatlas.agent.answerers.offline.OfflineAnswerer"), 2)  # a plugin by its class
    with pytest.raises(BadInputError, match="answerer 'llm' has neither"):
        check_refit(answerer_class("llm"), 2)


def test_folds_help_says_the_open_answer_confidence_map_is_refit_too():
    shown = run_cli("bench", "qa", "--help").output
    assert "open-answer confidence map" in " ".join(re.sub(r"[│|]", " ", shown).split())


@pytest.mark.parametrize("open_questions", [False, True], ids=["options", "open"])
def test_a_kind_answered_in_one_chapter_gets_a_note_not_a_crash(quick_index, tmp_path, open_questions):
    rows = [HALO | {"id": f"q{n}", "chapter": "Cervix"} for n in range(4)]
    items, _ = load_items(write_rows(tmp_path / "q.jsonl", rows), 1, open_questions=open_questions)
    result = QABench(quick_index, OfflineAnswerer(quick_index.encoder)).run(items, [], modes=("rag",), folds=2)
    rag = result["modes"]["rag"]
    assert "held_out" not in rag and "held_out_open" not in rag and rag["answered"] == 4
    refit = "open-answer confidence map" if open_questions else "option weights"
    assert [n for n in result["notes"] if "refit" in n] == [
        f"{refit} not refit per fold: the {'open' if open_questions else 'text multiple-choice'} questions (4) span "
        "one chapter ('Cervix'); folds need two"
    ]


def test_shuffled_options_keep_their_gold_and_all_of_the_above_its_place(tmp_path):
    rows = [
        {"id": f"q{n}", "question": "Which stain marks it?", "options": ["alpha", "beta", "gamma", "All of the above"]}
        | {"answer": "B"}
        for n in range(8)
    ] + [{"id": "yn", "question": "Is it benign?", "answer": "yes"}]
    items, _ = load_items(write_rows(tmp_path / "q.jsonl", rows), 1)
    shuffled = [shuffle_options(item, 7) for item in items]
    assert [s.question.options for s in shuffled] == [shuffle_options(i, 7).question.options for i in items]
    orders = {tuple(s.question.options) for s in shuffled[:8]}
    assert len(orders) > 1, "each question its own order"
    for item, moved in zip(items[:8], shuffled[:8], strict=True):
        options = moved.question.options
        assert sorted(options) == sorted(item.question.options) and options[3] == "All of the above"
        assert options["ABCD".index(moved.gold_answer)] == "beta" and as_filed(moved, moved.gold_answer) == "B"
        assert all(item.question.options["ABCD".index(as_filed(moved, x))] == options["ABCD".index(x)] for x in "ABCD")
    assert shuffled[8] is items[8], "yes/no options stay yes, no"


def test_a_shuffled_run_records_the_files_letters_and_compare_counts_changed_answers(quick_index, tmp_path):
    items = halo_items(tmp_path, 6)
    moved = [shuffle_options(item, 3) for item in items]
    assert any(m.question.options != i.question.options for m, i in zip(moved, items, strict=True))

    def run(answerer, asked):
        return QABench(quick_index, answerer).run(asked, [], modes=("rag",))

    by_text = compare_qa_runs(run(Counting("Koilocytes"), items), run(Counting("Koilocytes"), moved))["rag"]
    assert (by_text["changed"], by_text["gained"], by_text["lost"], by_text["after"]) == (0, 0, 0, 1.0)
    first = run(Counting(), moved)
    assert {r["answer"] for r in first["items"]} != {"A"} and {r["gold"] for r in first["items"]} == {"B"}
    by_place = compare_qa_runs(run(Counting(), items), first)["rag"]
    firsts = [m.question.options[0] for m in moved]
    assert by_place["changed"] == sum(f != "Langhans cells" for f in firsts)
    assert by_place["gained"] == firsts.count("Koilocytes")


QA_SECTIONS = re.compile(r"^## Question answering.*?(?=^## The MCP door)", re.S | re.M)


def test_the_qa_sections_of_benchmarks_cite_code_in_the_repo_or_say_where_else_it_is():
    """A script named by a path relative to the repository is in it; a throwaway script is named by its absolute
    path outside the repository (``/work/cache/...``), which says it was not kept."""
    qa = QA_SECTIONS.search((REPO / "BENCHMARKS.md").read_text(encoding="utf-8")).group(0)
    cited = {path for path in re.findall(r"`([\w./*-]+/[\w.*-]+\.py)`", qa) if not path.startswith("/")}
    assert cited, "the QA sections cite the agent's code"
    assert sorted(path for path in cited if not (REPO / path).is_file()) == []


class Recording(Searcher):
    """The index's searcher, keeping each query's text."""

    def __init__(self, index):
        super().__init__(index)
        self.texts: list[str | None] = []

    def search(self, query):
        self.texts.append(query.text)
        return super().search(query)


def test_the_query_of_a_question_with_options_does_not_follow_their_order(quick_index, tmp_path):
    """The dense query vector follows word order: with the options joined as listed, 6 of 347 dev answers changed
    when the options were shuffled."""
    items = halo_items(tmp_path, 4)
    moved = [shuffle_options(item, 5) for item in items]
    assert len({tuple(m.question.options) for m in moved}) > 1
    assert len({plan(m.question)[0].text for m in moved + items}) == 1, "the agent's first search"
    recorded = Recording(quick_index)
    bench = QABench(quick_index, Counting("Koilocytes"), searcher=recorded)
    for item in items + moved:
        bench.ask(item, "rag")
    assert len(set(recorded.texts)) == 1 and "Koilocytes" in recorded.texts[0]


def test_bench_qa_shuffle_options_records_its_seed_and_the_files_letters(quick_index, tmp_path):
    rows = [HALO | {"id": f"q{n}", "options": ["Langhans cells", "Koilocytes", "Goblet cells"]} for n in range(3)]
    out = tmp_path / "run.json"
    ran = run_cli(
        *("bench", "qa", "--questions", write_rows(tmp_path / "q.jsonl", rows), "--index", quick_index.path),
        *("--modes", "no-rag", "--shuffle-options", 4, "--out", tmp_path / "out", "--json", out),
        home=quick_index.settings.home,
    )
    assert ran.exit_code == 0, ran.output
    result = json.loads(out.read_text())
    assert result["run"]["shuffle_options"] == 4 and {r["gold"] for r in result["items"]} == {"B"}


def test_options_the_answerer_cannot_tell_apart_are_broken_by_their_words_not_their_place():
    """Two options of a negated question that no evidence names tie exactly; the first listed won, so the answer
    followed the order (1 of 347 dev answers once the query was order-free)."""
    options = ["protects underlying organs", "source of blood vessels", "Helps maintain body temperature"]
    assert best_option(np.array([0.2, 0.4, 0.4]), options) == 2, "'helps' before 'source', case ignored"
    assert best_option(np.array([0.2, 0.4, 0.4 - 1e-3]), options) == 1, "a real lead stays a lead"
    assert best_option(np.array([0.5, 0.5]), ["All of the above", "zinc"]) == 1, "its words say nothing"
    answerer = OfflineAnswerer(None)  # no encoder and no evidence: every option ties
    chosen = {answerer.answer(Question("Which is it?", options[k:] + options[:k]), []).text for k in range(3)}
    assert chosen == {"Helps maintain body temperature"}
