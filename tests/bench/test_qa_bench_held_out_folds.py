"""``bench qa --folds`` results complete and labelled truthfully: each held-out answer with its fold and a held-out
table per chapter, a plot whose every panel says what it shows in one colour per mode under the run's settings, and
compare-qa counting a row's changed answers from that row's own answers, warning where only one run held any out."""

from __future__ import annotations

import json

import pytest
from matplotlib.colors import to_rgb
from matplotlib.container import BarContainer

from pathatlas.agent.answerers.offline import OfflineAnswerer
from pathatlas.agent.bench.compare import check_same_questions, compare_qa_runs
from pathatlas.agent.bench.items import as_filed, load_items, shuffle_options
from pathatlas.agent.bench.report import markdown_report
from pathatlas.agent.bench.run import QABench
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.bench.common import chapter_folds
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.metrics import mean_interval
from tests.bench.test_bench_says_what_it_did import drawn
from tests.helpers import hashing_settings, run_cli

QUESTIONS = [
    ("Which cells have a clear perinuclear halo?", ["Langhans cells", "Koilocytes", "Goblet cells"], "B"),
    ("Which stain shows acid-fast bacilli?", ["Ziehl-Neelsen", "Congo red", "Prussian blue"], "A"),
    ("Which cells line the alveoli?", ["Goblet cells", "Plasma cells", "Type I pneumocytes"], "C"),
]
CHAPTERS = ["Cervix", "Granulomas", "Lung", "Kidney"]


@pytest.fixture(scope="module")
def folded(tmp_path_factory, demo_corpus) -> dict:
    """``bench qa --folds 2`` (rag and agentic, offline answerer) over 12 shuffled questions in 4 chapters of the demo
    corpus indexed with the hashing encoder (quick): the items as asked and the result with its run settings."""
    root = tmp_path_factory.mktemp("s39-heldout")
    rows = [
        {"id": f"q{n}", "question": text, "options": options, "answer": answer, "chapter": CHAPTERS[n % 4]}
        for n, (text, options, answer) in enumerate(QUESTIONS * 4)
    ]
    path = root / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    items, failures = load_items(path, 1)
    items = [shuffle_options(item, 5) for item in items]  # held-out answers too are recorded by the file's letters
    settings = hashing_settings(root)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add([demo_corpus]).failed
    try:
        result = QABench(index, OfflineAnswerer(index.encoder)).run(items, failures, ("rag", "agentic"), folds=2)
    finally:
        index.close()
    run = {"questions": str(path), "index": str(settings.index_dir), "answerer": "offline", "folds": 2}
    return {"items": items, "result": {"run": run | {"exclude_case": True}, **result}}


def test_each_held_out_answer_is_recorded_with_its_fold_and_a_table_per_chapter(folded):
    items = {item.id: item for item in folded["items"]}
    folds = dict(zip(CHAPTERS, [f + 1 for f in chapter_folds(CHAPTERS, 2)], strict=True))
    for m in folded["result"]["modes"].values():
        held = m["held_out"]
        assert set(held["answer"]) == set(held["fold"]) == set(held["correct"]) == set(items)
        for i, answer in held["answer"].items():
            gold = as_filed(items[i], items[i].gold_answer)  # the file's letter, as the item records its gold
            assert (answer == gold) == (held["correct"][i] == 1.0), (i, answer, gold, held["correct"][i])
            assert held["fold"][i] == folds[items[i].group]
        assert list(held["by_group"]) == CHAPTERS
        for chapter, figures in held["by_group"].items():
            scores = [held["correct"][i] for i in items if items[i].group == chapter]
            expected = {"n": len(scores), "accuracy": sum(scores) / len(scores), "ci95": list(mean_interval(scores))}
            assert figures == expected | {"fold": folds[chapter]}
    report = markdown_report(folded["result"], "t")
    section = report.split("by group, held out (weights refit on the other chapter folds)\n", 1)[1]
    header, _, *rows = [line for line in section.splitlines() if line.startswith("|")][: len(CHAPTERS) + 2]
    assert header == "| group | fold | n | rag | agentic |"
    rag = folded["result"]["modes"]["rag"]["held_out"]["by_group"]
    assert rows[0] == f"| Cervix | {folds['Cervix']} | 3 | {rag['Cervix']['accuracy']:.2f} |" + (
        f" {folded['result']['modes']['agentic']['held_out']['by_group']['Cervix']['accuracy']:.2f} |"
    )


def test_every_panel_says_what_it_shows_under_the_run_s_settings(folded, monkeypatch, tmp_path):
    result = folded["result"] | {"fitted_on": 12}  # as a run over the dev questions the weights were fitted on
    figure = drawn(monkeypatch, result, tmp_path)
    rows, reliability, groups = figure.axes
    assert rows.get_title().splitlines()[1:] == [
        "held out: refit per chapter fold;",
        "hatched: in-sample, fitted on 12 of these",
    ], "the bars are held out and in-sample, not all in-sample"
    assert [t.get_text() for t in rows.get_xticklabels()] == [
        "rag, held out",
        "agentic, held out",
        "rag, in-sample",
        "agentic, in-sample",
    ]
    assert [bar.get_hatch() for bar in rows.patches] == [None, None, "//", "//"]
    assert reliability.get_title() == "reliability diagram:\nheld out solid, in-sample dashed"
    assert groups.get_title() == "accuracy by chapter / group (95% CI): held out solid, in-sample hatched"
    bars = [container for container in groups.containers if isinstance(container, BarContainer)]  # not whiskers
    assert [container.get_label() for container in bars] == [
        "rag held out",
        "rag in-sample",
        "agentic held out",
        "agentic in-sample",
    ]
    assert [{bar.get_hatch() for bar in container} for container in bars] == [{None}, {"//"}] * 2
    title = figure.get_suptitle()
    for setting in ("q.jsonl", "index index", "answerer offline", "--folds 2", "--exclude-case"):
        assert setting in title, (setting, title)
    plain = folded["result"] | {"run": folded["result"]["run"] | {"exclude_case": False}}
    assert "--exclude-case" not in drawn(monkeypatch, plain, tmp_path).get_suptitle()


def test_a_mode_keeps_its_colour_in_every_panel(folded, monkeypatch, tmp_path):
    rows, reliability, groups = drawn(monkeypatch, folded["result"], tmp_path).axes
    by_bar = [to_rgb(bar.get_facecolor()) for bar in rows.patches]
    colours = {"rag": by_bar[0], "agentic": by_bar[1]}
    assert colours["rag"] != colours["agentic"] and by_bar[2:] == [colours["rag"], colours["agentic"]]
    for line in reliability.get_lines()[1:]:  # after the diagonal of perfect calibration
        assert to_rgb(line.get_color()) == colours[line.get_label().split()[0]], line.get_label()
    bars = [container for container in groups.containers if isinstance(container, BarContainer)]  # not whiskers
    named = [(bar, container.get_label()) for container in bars for bar in container]
    assert len(named) == 2 * 2 * len(CHAPTERS), "held out and as answered, per mode and chapter"
    for bar, label in named:
        assert to_rgb(bar.get_facecolor()) == colours[label.split()[0]], label


def answered_run(answers: dict[str, str], held: dict[str, str] | None) -> dict:
    """A ``bench qa`` result of rag: each question's answer (gold "A": right when "A"), and its held-out answers (the
    run's own where ``held`` is None, for an older result: right or wrong alone)."""
    items = [{"id": i, "mode": "rag", "answer": a, "gold": "A", "score": float(a == "A")} for i, a in answers.items()]
    mode = {"held_out": {"correct": {i: float(a == "A") for i, a in (held or answers).items()}}}
    if held is not None:
        mode["held_out"]["answer"] = held
    return {"modes": {"rag": mode}, "items": items}


def test_compare_counts_a_held_out_row_s_changes_from_its_held_out_answers():
    shipped = {"a": "A", "b": "B", "c": "C"}
    before = answered_run(shipped, {"a": "A", "b": "B", "c": "C"})
    after = answered_run(shipped, {"a": "A", "b": "C", "c": "D"})  # two held-out answers moved, right or wrong
    rag = compare_qa_runs(before, after)["rag"]
    assert rag["answers"] == "held out" and (rag["gained"], rag["lost"]) == (0, 0)
    assert rag["changed"] == 2, "the shipped weights' answers are the same: they are not this row's"
    assert compare_qa_runs(before, answered_run(shipped, None))["rag"]["changed"] is None, "not recorded: not 0"


def test_comparing_a_folded_run_with_a_plain_one_warns_in_one_line_and_in_the_json(tmp_path):
    folded_run = answered_run({"a": "A", "b": "B"}, {"a": "B", "b": "B"})
    plain = answered_run({"a": "A", "b": "A"}, None)
    del plain["modes"]["rag"]["held_out"]
    rag = compare_qa_runs(folded_run, plain)["rag"]
    assert (
        rag["answers"] == "all"
        and "only one run has held-out answers (--folds) for rag (the run before)" in (rag["warning"])
    )
    assert "warning" not in compare_qa_runs(folded_run, folded_run)["rag"]
    assert check_same_questions(folded_run, plain) == rag["warning"] and "\n" not in rag["warning"]
    assert check_same_questions(plain, plain) is None
    paths = [tmp_path / "folded.json", tmp_path / "plain.json"]
    for path, document in zip(paths, (folded_run, plain), strict=True):
        path.write_text(json.dumps(document))
    result = run_cli("bench", "compare-qa", *paths, "--json", tmp_path / "c.json", COLUMNS="400")
    assert result.exit_code == 0, result.output
    said = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert said == [f"warning: {rag['warning']}"]
    assert json.loads((tmp_path / "c.json").read_text())["modes"]["rag"]["warning"] == rag["warning"]
