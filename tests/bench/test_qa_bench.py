"""The QA benchmark harness: statistics, scoring, bad rows recorded per item, a complete run on the demo."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.bench.compare import compare_qa_runs
from pathatlas.agent.bench.items import load_items
from pathatlas.agent.bench.plot import plot_qa
from pathatlas.agent.bench.quotes import PageTexts, quoted_verbatim
from pathatlas.agent.bench.report import markdown_report
from pathatlas.agent.bench.run import QABench
from pathatlas.agent.bench.scores import token_recall
from pathatlas.agent.bench.stats import paired_bootstrap
from pathatlas.agent.questions import Answer, Evidence, Quote
from pathatlas.agent.tune import (
    OpenRow,
    Row,
    cross_validate,
    cross_validate_open,
    expected_calibration_error,
    fit_weights,
)
from pathatlas.agent.writing import evidence_naming
from pathatlas.retrieval.bench.common import chapter_folds
from pathatlas.retrieval.metrics import exact_mcnemar_p, wilson
from pathatlas.retrieval.records import Citation


def test_wilson_interval_and_token_recall():
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.404, abs=0.002) and hi == pytest.approx(0.596, abs=0.002)
    assert wilson(0, 0) == (0.0, 0.0)
    for n in range(1, 400):  # 60 of 60 gave an upper bound below 1.0 by rounding: a negative error bar in plot.png
        for successes in (0, n // 2, n):
            lo, hi = wilson(successes, n)
            assert 0.0 <= lo <= successes / n <= hi <= 1.0, (successes, n)
    assert token_recall("the koilocyte halo", "koilocyte halo") == 1.0, "a longer answer saying it all is right"
    assert token_recall("Koilocytes have a clear halo", "koilocyte halo") == 0.5
    assert token_recall("halo halo", "halo halo halo") == pytest.approx(2 / 3), "repeats count as often as said"
    assert token_recall("", "x") == 0.0 and token_recall("x", "") == 0.0


def test_calibration_error_and_paired_bootstrap():
    ece, bins = expected_calibration_error([0.9, 0.9, 0.9, 0.9, 0.3, 0.3], [1, 1, 1, 0, 0, 1])
    assert ece == pytest.approx((4 * 0.15 + 2 * 0.2) / 6)
    assert [b[2] for b in bins] == [2, 4]
    assert expected_calibration_error([0.8] * 10, [1] * 8 + [0] * 2)[0] == pytest.approx(0.0)
    better = paired_bootstrap([1] * 30 + [0] * 70, [0] * 100)
    assert better["difference"] == pytest.approx(0.3) and 0.2 < better["ci95"][0] < 0.3 < better["ci95"][1]
    same = paired_bootstrap([1, 0] * 50, [0, 1] * 50)
    assert same["ci95"][0] < 0 < same["ci95"][1]


def test_exact_mcnemar_is_the_two_sided_sign_test_on_changed_answers():
    # by hand: 2 * sum(C(n, j) for j <= min) / 2^n
    assert exact_mcnemar_p(15, 4) == pytest.approx(2 * (1 + 19 + 171 + 969 + 3876) / 2**19)  # 0.0192
    assert exact_mcnemar_p(0, 6) == exact_mcnemar_p(6, 0) == pytest.approx(2 / 64)
    assert exact_mcnemar_p(0, 0) == 1.0 and exact_mcnemar_p(5, 5) == 1.0 and exact_mcnemar_p(3, 2) == 1.0
    assert exact_mcnemar_p(12, 7) == pytest.approx(0.359, abs=5e-4)
    with pytest.raises(ValueError):
        exact_mcnemar_p(-1, 3)
    stats = pytest.importorskip("scipy.stats")
    for gained in range(0, 25):
        for lost in range(0, 25):
            if gained + lost:
                expected = stats.binomtest(gained, gained + lost, 0.5).pvalue
                assert exact_mcnemar_p(gained, lost) == pytest.approx(expected, rel=1e-9), (gained, lost)
    assert exact_mcnemar_p(480, 520) == pytest.approx(stats.binomtest(480, 1000, 0.5).pvalue, rel=1e-9)


def qa_run(scores: dict[str, float], settled: set[str], held_out: dict[str, float] | None = None) -> dict:
    """A ``bench qa`` result of one mode, rag: per-question scores, settled flags, optionally held-out answers."""
    mode = {"accuracy": sum(scores.values()) / len(scores)}
    if held_out is not None:
        mode["held_out"] = {"correct": held_out}
    items = [{"id": "bad", "failed": "not a question"}]
    items += [{"id": i, "mode": "rag", "score": s, "settled": i in settled} for i, s in scores.items()]
    return {"modes": {"rag": mode}, "items": items}


def test_compare_qa_runs_pairs_held_out_answers_when_both_runs_have_them():
    before = qa_run({"a": 1, "b": 0, "c": 0, "d": 1}, {"a"}, held_out={"a": 1, "b": 1, "c": 0, "d": 0})
    after = qa_run({"a": 1, "b": 1, "c": 1, "e": 0}, {"a", "b"}, held_out={"a": 0, "b": 1, "c": 1, "d": 1})
    rag = compare_qa_runs(before, after)["rag"]
    assert rag["answers"] == "held out" and rag["n"] == 4 and rag["unpaired"] == 0
    assert (rag["gained"], rag["lost"]) == (2, 1)  # c, d right now; a wrong now
    assert rag["before"] == 0.5 and rag["after"] == 0.75 and rag["p"] == 1.0
    settled = rag["settled"]  # over a, b, c: answered in both runs, as each run answered them
    assert settled["n"] == 3
    assert settled["before"] == {"settled": {"n": 1, "accuracy": 1.0}, "unsettled": {"n": 2, "accuracy": 0.0}}
    assert settled["after"] == {"settled": {"n": 2, "accuracy": 1.0}, "unsettled": {"n": 1, "accuracy": 1.0}}


def test_compare_qa_runs_pairs_every_answer_otherwise():
    before = qa_run({"a": 1, "b": 0, "c": 0, "d": 1}, set(), held_out={"a": 0, "b": 0, "c": 0, "d": 0})
    after = qa_run({"a": 0, "b": 1, "c": 1, "e": 0.5}, set())  # no folds in this run
    rag = compare_qa_runs(before, after)["rag"]
    assert rag["answers"] == "all" and rag["n"] == 3 and rag["unpaired"] == 2  # d and e
    assert (rag["gained"], rag["lost"]) == (2, 1) and rag["p"] == 1.0
    assert rag["before"] == pytest.approx(1 / 3) and rag["after"] == pytest.approx(2 / 3)
    same = compare_qa_runs(after, after)["rag"]
    assert (same["gained"], same["lost"], same["p"]) == (0, 0, 1.0)
    del after["items"][1]["settled"]  # a run from before answers were settled records no flag
    assert compare_qa_runs(before, after)["rag"]["settled"]["after"] is None
    after["modes"] = {"agentic": after["modes"]["rag"]}
    assert compare_qa_runs(before, after) == {}


def test_weights_fit_and_cross_validate_on_held_out_chapters():
    rng = np.random.default_rng(0)
    rows = []
    for n in range(150):  # feature 0 tells the answer (against it when negated), feature 1 is noise, except when the
        features = rng.uniform(0, 1, (4, 2))  # options are statements: there feature 1 adds to feature 0
        negated, statements = n % 5 == 0, n % 5 == 1
        plain = features[:, 0] + 2 * features[:, 1] * statements
        gold = int(np.argmin(features[:, 0]) if negated else np.argmax(plain))
        rows.append(Row(f"q{n}", f"ch{n % 6}", features, gold, negated, statements))
    terms = fit_weights([r for r in rows if not r.statements], negated_by=0)  # features, leaders, statements, negated
    assert len(terms) == 7 and terms[0] > 1 and terms[2] > 3, "feature 0 counts, by value and by leading"
    assert abs(terms[1]) + abs(terms[3]) < (terms[0] + terms[2]) / 10, "the noise feature does not"
    assert not terms[4:6].any() and terms[6] > 5, "no statements: their weights stay 0; negated ones learn their own"
    w = fit_weights(rows, negated_by=0)  # both features again for statement options, then the negated feature
    assert w[5] > 3 and abs(w[4]) < w[5] / 3, "for statement options feature 1 counts too"
    folds = chapter_folds([r.group for r in rows], 3)
    assert len(set(folds)) == 3 and all(
        len({f for f, r in zip(folds, rows, strict=True) if r.group == g}) == 1 for g in {r.group for r in rows}
    )
    held = cross_validate(rows, folds, negated_by=0)
    assert held["accuracy"] > 0.85 and held["negated"]["n"] == 30 and len(held["weights"]) == 3
    plain_design = cross_validate([r._replace(statements=False) for r in rows], folds, negated_by=0)
    assert held["accuracy"] > plain_design["accuracy"] + 0.05, "statement weights of their own pay off"


def test_folds_deal_chapters_by_name_not_by_first_appearance():
    """``bench qa --folds`` and ``bench retrieval --folds`` deal chapters by name (shortest first), one function for
    both, so they hold out the same chapters together."""
    chapters = ["ch10", "ch1", "ch2", "ch1"]
    assert chapter_folds(chapters, 2) == [0, 0, 1, 0]
    assert chapter_folds(chapters[::-1], 2) == [0, 1, 0, 0], "a shuffled file keeps each chapter's fold"


def test_bad_rows_become_failed_items(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    Image.new("RGB", (40, 40)).save(tmp_path / "ok.png")
    rows = [
        {"id": "good", "question": "Which cells?", "options": ["a", "b"], "answer": "B"},
        {"id": "no-question", "question": "", "options": ["a", "b"], "answer": "A"},
        {"id": "bad-letter", "question": "Which cells?", "options": ["a", "b"], "answer": "E"},
        {"id": "bad-image", "question": "Which cells?", "options": ["a", "b"], "answer": "A", "image": "notes.png"},
        {"id": "yes-no", "question": "Is it benign?", "answer": "yes", "image": "ok.png"},
        {"id": "open", "question": "What lines the alveoli?", "answer": "type I pneumocytes"},
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    items, failures = load_items(path, max_pixels=10_000_000)
    assert [i.id for i in items] == ["good", "yes-no", "open"]
    assert [i.kind for i in items] == ["mcq", "yesno", "open"] and items[1].question.options == ["yes", "no"]
    failed = {f["id"]: f["error"] for f in failures}
    assert set(failed) == {"no-question", "bad-letter", "bad-image"}
    assert "options without a question" in failed["no-question"] and "not one of A, B" in failed["bad-letter"]


def test_qa_run_on_the_demo_index(demo_index, tmp_path):
    rows = [
        {
            "id": "q1",
            "question": "Which cells have a clear perinuclear halo in HPV infection of the cervix?",
            "options": ["Langhans giant cells", "Koilocytes", "Goblet cells"],
            "answer": "B",
            "gold": {"pdf_pages": [1, 1]},
            "chapter": "Cervix",
        },
        {
            "id": "q2",
            "question": "Which stain shows acid-fast bacilli?",
            "options": ["Ziehl-Neelsen", "Congo red", "Prussian blue"],
            "answer": "A",
            "gold": {"pdf_pages": [2, 2]},
            "chapter": "Granulomas",
        },
        {"id": "q3", "question": "", "options": ["a"], "answer": "A"},
    ]
    path = tmp_path / "demo.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    items, failures = load_items(path, 10_000_000)
    result = QABench(demo_index, OfflineAnswerer(demo_index.encoder)).run(items, failures, folds=2)
    assert result["n"] == 3
    for mode in ("no-rag", "rag", "agentic"):
        metrics = result["modes"][mode]
        assert metrics["failed"] == 1 and 0 <= metrics["ci95"][0] <= metrics["accuracy"] <= metrics["ci95"][1]
    assert result["modes"]["agentic"]["accuracy"] == 1.0
    assert result["modes"]["agentic"]["evidence_recall@5"] == 1.0
    assert set(result["modes"]["agentic"]["by_group"]) == {"Cervix", "Granulomas"}
    agentic = result["modes"]["agentic"]
    assert agentic["vs_rag"]["difference"] == agentic["accuracy"] - result["modes"]["rag"]["accuracy"]
    assert agentic["held_out"]["folds"] == 2 and set(agentic["held_out"]["correct"]) == {"q1", "q2"}
    assert agentic["verbatim_quote_rate"] == 1.0 and result["modes"]["no-rag"]["verbatim_quote_rate"] is None
    assert 0 <= agentic["ece"] <= 1 and agentic["reliability"] and agentic["negated"]["n"] == 0
    assert agentic["by_naming"] == {
        "choice": {
            "n": 2,
            "accuracy": 1.0,
            "confidence": pytest.approx(
                np.mean([i["confidence"] for i in result["items"] if i.get("mode") == "agentic" and "score" in i])
            ),
        }
    }
    assert "by_naming" in result["modes"]["no-rag"] and not result["modes"]["no-rag"]["by_naming"], "nothing quoted"
    report = markdown_report(result, "demo")
    assert "| agentic, shipped weights | 1.000 |" in report and "Reliability" in report
    assert "held-out accuracy" in report
    assert "| agentic | a sentence names the choice | 2 | 1.000 |" in report
    plot_qa(result, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 5_000


def test_the_open_answer_confidence_is_refit_held_out_and_says_what_answers_score():
    """Quoted sentences covering all of a question said a fifth of the right answer: coverage as confidence claimed
    five times that. The map fit on the other chapters claims what held-out answers score."""
    rng = np.random.default_rng(0)
    coverage = rng.uniform(0.2, 1.0, 400)
    rows = [OpenRow(f"q{n}", f"chapter {n % 4}", float(c), float(rng.random() < 0.2)) for n, c in enumerate(coverage)]
    result = cross_validate_open(rows, chapter_folds([r.group for r in rows], 2))
    assert result["folds"] == 2 and len(result["all_data_weights"]) == 2
    assert result["coverage_ece"] > 0.35 and result["ece"] < result["coverage_ece"] / 3, result
    assert result["all_data_weights"][1] == pytest.approx(0.0, abs=0.6), "score does not follow coverage here"


def test_an_open_run_with_folds_reports_the_held_out_confidence(demo_index, tmp_path):
    rows = [
        {
            "id": f"q{n}",
            "question": "Which cells have a perinuclear halo?",
            "options": ["Koilocytes", "Langhans cells"],
            "answer": "A",
            "chapter": f"chapter {n % 2}",
        }
        for n in range(6)
    ]
    path = tmp_path / "mcq.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    items, _ = load_items(path, 10_000_000, open_questions=True)
    result = QABench(demo_index, OfflineAnswerer(demo_index.encoder)).run(items, [], modes=("rag",), folds=2)
    held = result["modes"]["rag"]["held_out_open"]
    assert held["folds"] == 2 and 0.0 <= held["ece"] <= 1.0 and "held_out" not in result["modes"]["rag"]
    assert "## Open-answer confidence refit per fold" in markdown_report(result, "open")


def test_open_questions_from_multiple_choice_rows_score_the_quoted_page(demo_index, tmp_path):
    base = {"question": "Which cells have a clear perinuclear halo in HPV infection of the cervix?", "answer": "B"}
    rows = [
        {**base, "id": "gold-page", "options": ["Langhans giant cells", "Koilocytes"], "gold": {"pdf_pages": [1, 1]}},
        {**base, "id": "other-page", "options": ["Langhans giant cells", "Koilocytes"], "gold": {"pdf_pages": [9, 9]}},
    ]
    path = tmp_path / "mcq.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    items, _ = load_items(path, 10_000_000, open_questions=True)
    assert [(i.kind, i.question.options, i.gold_answer) for i in items] == [("open", [], "Koilocytes")] * 2
    result = QABench(demo_index, OfflineAnswerer(demo_index.encoder)).run(items, [], modes=("no-rag", "agentic"))
    quoted = {r["id"]: r["quotes_gold_page"] for r in result["items"] if r["mode"] == "agentic"}
    assert quoted == {"gold-page": True, "other-page": False}, "the answer quotes page 1, where koilocytes are"
    assert result["modes"]["agentic"]["gold_page_quoted"] == 0.5
    assert result["modes"]["no-rag"]["gold_page_quoted"] is None, "without retrieval nothing is quoted"
    assert "| gold page quoted |" in markdown_report(result, "open")


def test_every_answerer_is_quoted_alike_with_or_without_the_agent(demo_index, tmp_path):
    """An answerer that only picks (as a terse LLM does) still gets the chosen option's quote in ``rag`` mode,
    as the agent gives it: the modes' verbatim-quote rates compare like with like."""
    from pathatlas.agent.answerers.base import Answerer
    from pathatlas.agent.questions import Answer

    class PicksB(Answerer):
        name = "picks-b"

        def answer(self, question, evidence):
            return Answer(1, question.options[1], 0.9)

    row = {
        "id": "q1",
        "question": "Which cells have a clear perinuclear halo in HPV infection of the cervix?",
        "options": ["Langhans giant cells", "Koilocytes", "Goblet cells"],
        "answer": "B",
        "chapter": "Cervix",
    }
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(row))
    items, failures = load_items(path, 10_000_000)
    modes = QABench(demo_index, PicksB()).run(items, failures, modes=("rag", "agentic"))["modes"]
    assert modes["rag"]["verbatim_quote_rate"] == modes["agentic"]["verbatim_quote_rate"] == 1.0


def test_held_out_confidence_is_paired_with_its_own_question():
    rows = []
    for n in range(60):  # even chapters: feature 0 names the answer; odd chapters: nothing to go on, gold unguessed
        informative = n % 2 == 0
        features = np.zeros((4, 1))
        if informative:
            features[n % 4, 0] = 1.0
        rows.append(Row(f"q{n}", f"ch{n % 6}", features, n % 4 if informative else 3, False, False))
    held = cross_validate(rows, chapter_folds([r.group for r in rows], 3), negated_by=0)
    uniform = [b for b in held["reliability"] if b[0] <= 0.25 < b[1]]
    assert uniform and uniform[0][2] == 30 and uniform[0][4] == 0.0, "unsure answers are the wrong ones"
    assert held["ece"] == pytest.approx(0.5 * 0.25 + 0.5 * (1 - held["reliability"][-1][3]), abs=1e-6)


def test_a_quote_is_verbatim_whether_a_line_break_joined_or_kept_its_hyphen(tmp_path):
    """The page prints "pigment-" at a line's end: the index keeps the hyphen of a hyphenated word and joins a word
    split across lines, and either quote is what the reader sees on that page."""
    import pymupdf

    from pathatlas.agent.questions import Answer, Evidence, Quote
    from pathatlas.retrieval.records import Citation

    pdf = tmp_path / "page.pdf"
    with pymupdf.open() as doc:
        doc.new_page().insert_text((72, 72), "Melanocytes are pigment-\nproducing cells of the basal layer.")
        doc.save(pdf)
    evidence = Evidence("p1", "page", "", Citation(str(pdf), page=1), 1)

    def verbatim(text: str) -> bool | None:
        quote = Quote(text, evidence, "supports", 1.0)
        return quoted_verbatim(Answer(0, "melanocytes", 0.9, quotes=[[quote], []]), PageTexts())

    assert verbatim("Melanocytes are pigment-producing cells of the basal layer.")
    assert verbatim("Melanocytes are pigmentproducing cells of the basal layer.")
    assert not verbatim("Melanocytes are pigment-producing cells of the spinous layer."), "other words are no quote"


def test_an_answer_is_sliced_by_what_its_quotes_name():
    """``bench qa`` reports accuracy and confidence by what the chosen option's quotes name: a choice no sentence
    names was answered at 0.18 with confidence 0.35 (twenty-third session), a slice the report must show."""
    evidence = Evidence("e1", "page", "A sentence.", Citation("book.pdf", page=1), 1)

    def answer(choice, quotes):
        return Answer(choice, "x", 0.5, quotes=[[Quote("s", evidence, "supports", about=a) for a in q] for q in quotes])

    assert evidence_naming(answer(1, [[None], [None], []])) == "choice"
    assert evidence_naming(answer(1, [[None], [(0,)], []])) == "another", "a sentence names A, quoted under A"
    assert evidence_naming(answer(1, [[], [(2,)], []])) == "another", "the choice's nearest sentence names C"
    assert evidence_naming(answer(1, [[], [()], []])) == "none"
    assert evidence_naming(answer(None, [[None]])) is None and evidence_naming(answer(0, [[], []])) is None
