"""A PhD student benchmarking pathology VQA with ``bench qa``: a file in another dataset's schema (``qid``,
``choices``, ``answer_idx``) ran as empty open questions scoring 0; yes/no golds written "Yes." became open
questions; one "accuracy" mixed right-or-wrong with token recall; failed rows' reasons hid in the JSON; a result did
not say what it ran; ``compare-qa`` paired runs of different questions; other images of the question's own case were
evidence; an error's "[first, last]" vanished as markup; and "evidence recall@5" is a hit rate."""

from __future__ import annotations

import hashlib
import json

import pytest

from pathatlas.agent.answerers.base import Answerer
from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.outcomes import OFFLINE_YES_NO
from pathatlas.agent.bench.report import markdown_report
from pathatlas.agent.bench.run import QABench
from pathatlas.agent.bench.scores import is_correct
from pathatlas.agent.questions import Answer
from pathatlas.errors import BadInputError
from pathatlas.ui.bench_cli import qa_table
from tests.helpers import one_error_line, run_cli

HALO = {
    "id": "halo",
    "question": "Which cells have a clear perinuclear halo in HPV infection of the cervix?",
    "options": ["Langhans giant cells", "Koilocytes", "Goblet cells"],
    "answer": "B",
}
VARIANT = {
    "qid": "v1",
    "question": "What does this H&E lung tile show?",
    "choices": {"A": "Benign lung tissue", "B": "Lung adenocarcinoma"},
    "answer_idx": 1,
}


def write(path, *rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


class SaysYesOrB(Answerer):
    """Answers B to a multiple-choice question, else "Yes, it is." (a sentence saying yes)."""

    name = "says-yes"

    @classmethod
    def create(cls, settings, encoder):
        return cls()

    def answer(self, question, evidence):
        if question.options and question.options != ["yes", "no"]:
            return Answer(1, question.options[1], 0.9)
        return Answer(None, "Yes, it is.", 0.6)


# 1. A file in another schema -----------------------------------------------------------------------------------


def test_a_file_in_another_schema_is_refused_naming_its_keys_and_the_expected_ones(tmp_path):
    with pytest.raises(BadInputError) as refused:
        load_items(write(tmp_path / "variant.jsonl", VARIANT, {**VARIANT, "qid": "v2"}), 10_000_000)
    message = str(refused.value)
    assert "none of its 2 rows can be asked" in message and "\n" not in message
    assert "unknown keys answer_idx, choices, qid" in message
    assert "id, question, options, answer, image, gold, chapter" in message


def test_a_row_without_an_answer_fails_naming_its_keys_instead_of_scoring_0(tmp_path):
    no_answer = {"id": "open", "question": "What is the diagnosis?"}
    items, failures = load_items(write(tmp_path / "q.jsonl", HALO, VARIANT, no_answer), 10_000_000)
    assert [i.id for i in items] == ["halo"]
    assert failures == [
        {
            "row": 2,
            "id": "row2",
            "error": "no answer to score against; the row's keys: qid, question, choices, answer_idx",
        },
        {"row": 3, "id": "open", "error": "no answer to score against; the row's keys: id, question"},
    ]


def test_a_csv_question_file_is_refused_as_not_jsonl(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("id,question,A,B,answer\nq1,Which?,x,y,A\n")
    with pytest.raises(BadInputError, match=r"question files are JSONL \(one JSON object per line\)"):
        load_items(path, 10_000_000)


# 2. Yes/no golds written as sentences ---------------------------------------------------------------------------


def test_yes_no_gold_written_as_a_sentence_is_a_yes_no_question(tmp_path):
    golds = {"a": "Yes.", "b": "no, it is not", "c": "yes, it is", "d": "No", "e": "Nodular sclerosis"}
    rows = [{"id": i, "question": "Is this benign lung tissue?", "answer": a} for i, a in golds.items()]
    items, _ = load_items(write(tmp_path / "yn.jsonl", *rows), 10_000_000)
    read = {i.id: (i.kind, i.gold_answer, i.question.options) for i in items}
    yes, no = ["yes", "no"], ["yes", "no"]
    assert read == {
        "a": ("yesno", "yes", yes),
        "b": ("yesno", "no", no),
        "c": ("yesno", "yes", yes),
        "d": ("yesno", "no", no),
        "e": ("open", "Nodular sclerosis", []),
    }
    assert is_correct(items[0], Answer(None, "Yes, it is.", 0.5)) == 1.0
    assert is_correct(items[1], Answer(None, "Yes.", 0.5)) == 0.0


# 3. Scores per kind, named by what they measure ----------------------------------------------------------------


def test_scores_are_reported_per_kind_and_open_runs_say_token_recall(quick_index, tmp_path):
    rows = [
        HALO,
        {"id": "yn", "question": "Are koilocytes seen in LSIL?", "answer": "Yes.", "chapter": "cervix"},
        {"id": "open", "question": "Which cells have a perinuclear halo?", "answer": "koilocytes it is"},
    ]
    items, failures = load_items(write(tmp_path / "q.jsonl", *rows), 10_000_000)
    result = QABench(quick_index, SaysYesOrB()).run(items, failures, modes=("no-rag",))
    by_kind = result["modes"]["no-rag"]["by_kind"]
    assert {k: (v["n"], v["metric"], v["score"]) for k, v in by_kind.items()} == {
        "mcq": (1, "accuracy", 1.0),
        "open": (1, "token recall", pytest.approx(2 / 3)),
        "yesno": (1, "accuracy", 1.0),
    }
    records = {r["id"]: (r["kind"], r["group"]) for r in result["items"]}
    assert records == {"halo": ("mcq", "all"), "yn": ("yesno", "cervix"), "open": ("open", "all")}
    report = markdown_report(result, "mixed")
    assert result["metric"] == "mean score" and "| mode | mean score |" in report
    assert "## By kind" in report and "| no-rag | open | 1 | token recall | 0.667 |" in report

    opened, _ = load_items(write(tmp_path / "o.jsonl", HALO), 10_000_000, open_questions=True)
    result = QABench(quick_index, SaysYesOrB()).run(opened, [], modes=("no-rag",))
    assert result["metric"] == "token recall" and "| mode | token recall |" in markdown_report(result, "open")
    assert qa_table(result, "open").headers[1] == "token recall"


def test_the_offline_answerer_on_yes_no_questions_says_its_figures_are_near_the_base_rate(quick_index, tmp_path):
    rows = [{"id": "yn", "question": "Are koilocytes seen in LSIL?", "answer": "yes"}]
    items, _ = load_items(write(tmp_path / "q.jsonl", *rows), 10_000_000)
    result = QABench(quick_index, OfflineAnswerer(quick_index.encoder)).run(items, [], modes=("no-rag",))
    assert result["notes"] == [OFFLINE_YES_NO] and OFFLINE_YES_NO in markdown_report(result, "yn")
    assert QABench(quick_index, SaysYesOrB()).run(items, [], modes=("no-rag",))["notes"] == []


# 4, 5, 8. The command: failed rows said, a self-describing JSON, hit@5 -------------------------------------------


def test_bench_qa_says_failed_rows_and_describes_its_run(quick_index, tmp_path):
    bad = [{"id": f"bad{n}", "question": "Which?", "options": ["x", "y"], "answer": "E"} for n in range(22)]
    questions = write(tmp_path / "q.jsonl", HALO, *bad, {"id": "yn", "question": "Is it LSIL?", "answer": "No."})
    out = tmp_path / "run.json"
    result = run_cli(
        "bench", "qa", "--questions", questions, "--index", quick_index.path, "--modes", "no-rag",
        "--out", tmp_path / "qa", "--json", out, home=tmp_path / "home", PYTHONHASHSEED="0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if line.startswith("failed row ")]
    assert said[0] == "failed row 2 (bad0): answer 'E' is not one of A, B" and len(said) == 20
    assert "... and 2 more" in result.stderr
    assert OFFLINE_YES_NO in result.stderr.replace("\n", " ")
    assert "24 questions, 2 answered" in result.stdout and "evidence hit@5" in result.stdout
    report = (tmp_path / "qa" / "report.md").read_text()
    assert "24 questions, 2 answered" in report and "## Failed rows" in report
    assert "- row 23 (bad21): answer 'E' is not one of A, B" in report and "| evidence hit@5 |" in report
    assert OFFLINE_YES_NO in report
    document = json.loads(out.read_text())
    run = document["run"]
    assert run["questions_sha256"] == hashlib.sha256(questions.read_bytes()).hexdigest()
    assert run["index"] == str(quick_index.path) and run["index_revisions"] == quick_index.meta.revisions
    assert (run["answerer"], run["model"], run["modes"], run["open"], run["folds"]) == (
        "offline",
        None,
        ["no-rag"],
        False,
        0,
    )
    assert run["pythonhashseed"] == "0" and run["date"].endswith("+00:00") and run["pathatlas"]
    assert "evidence_recall@5" in document["modes"]["no-rag"], "the JSON key stays"


def qa_json(path, golds: dict[str, str], open_run: bool = False, sha: str = "a" * 64):
    items = [{"id": i, "mode": "rag", "gold": g, "score": 1.0} for i, g in golds.items()]
    run = {"open": open_run, "questions_sha256": sha}
    path.write_text(json.dumps({"run": run, "modes": {"rag": {"accuracy": 1.0}}, "items": items}))
    return path


def test_compare_qa_refuses_runs_that_asked_different_questions(tmp_path):
    before = qa_json(tmp_path / "a.json", {"q1": "A", "q2": "B"})
    for after, words in [
        (qa_json(tmp_path / "b.json", {"x1": "A"}), "they share no question id"),
        (qa_json(tmp_path / "c.json", {"q1": "A", "q2": "C"}), "1 shared ids have another gold answer (first 'q2'"),
        (qa_json(tmp_path / "d.json", {"q1": "A", "q2": "B"}, open_run=True), "only the run after asked them --open"),
    ]:
        one_error_line(run_cli("bench", "compare-qa", before, after), "these runs asked different questions", words)
    edited = qa_json(tmp_path / "e.json", {"q1": "A", "q2": "B", "q3": "C"}, sha="b" * 64)
    compared = run_cli("bench", "compare-qa", before, edited)
    assert compared.exit_code == 0 and "warning: the two runs' question files differ" in compared.stderr


# 6. Leakage through the question's own case ----------------------------------------------------------------------


def test_exclude_case_keeps_the_gold_cases_other_images_out_and_counts_them(quick_index, demo_corpus, tmp_path):
    row = {
        "id": "lsil",
        "question": "LSIL with koilocytes, cervix: low-grade squamous intraepithelial lesion?",
        "options": ["LSIL", "Tuberculosis"],
        "answer": "A",
        "gold": {"case": "DEMO-01", "diagnosis": "low-grade squamous intraepithelial lesion"},
    }
    items, _ = load_items(write(tmp_path / "q.jsonl", row), 10_000_000)

    def own_case(exclude_case: bool) -> list[int]:
        result = QABench(quick_index, SaysYesOrB(), exclude_case=exclude_case).run(items, [], modes=("rag", "agentic"))
        assert all("score" in r for r in result["items"]), result["items"]
        return [r["own_case_evidence"] for r in result["items"]]

    assert all(n >= 1 for n in own_case(False)), "the case's images are evidence by default"
    assert own_case(True) == [0, 0]
    image = demo_corpus / "cases" / "images" / "DEMO-01-1.jpg"
    pictured, _ = load_items(write(tmp_path / "i.jsonl", {**row, "image": str(image)}), 10_000_000)
    case_ids = {rid for rid, p in quick_index.store.scan({"kind": "case"}) if p.get("case") == "DEMO-01"}
    assert len(case_ids) == 2
    assert len(QABench(quick_index, SaysYesOrB()).excluded(pictured[0])) == 1, "by default its own image only"
    assert QABench(quick_index, SaysYesOrB(), exclude_case=True).excluded(pictured[0]) == case_ids


# 7. Error messages are text, not markup -------------------------------------------------------------------------


def test_an_error_with_brackets_keeps_them(quick_index, tmp_path):
    questions = write(tmp_path / "q.jsonl", {**HALO, "gold": {"pdf_pages": [5, 3]}})
    result = run_cli("bench", "qa", "--questions", questions, "--index", quick_index.path, home=tmp_path / "home")
    one_error_line(result, "gold pdf_pages [5, 3] is not [first, last] with 1 <= first <= last")


def test_an_open_gold_opening_with_no_stays_open():
    from pathatlas.agent.bench.items import yes_no

    assert [yes_no(t) for t in ("Yes.", "no, it is not", "No", "No mitoses are seen")] == ["yes", "no", "no", None]
