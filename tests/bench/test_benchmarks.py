"""Benchmark metrics (pure) and the retrieval benchmark's document shape on a miniature dataset."""

from __future__ import annotations

import json

import pytest

from pathatlas.retrieval.bench import run_retrieval_bench
from pathatlas.retrieval.bench.common import chance, compare_runs, plot_curves, ranx_metric
from pathatlas.retrieval.encoders import create_encoder
from pathatlas.retrieval.metrics import expected_precision, expected_recall_and_mrr, first_relevant_rank
from tests.bench_oracles import summarise
from tests.retrieval.test_joint import write_shared_layout


def test_recall_mrr_precision():
    assert first_relevant_rank(["a", "b", "c"], {"b"}.__contains__) == 2
    assert first_relevant_rank(["a"], {"z"}.__contains__) is None
    metrics = expected_recall_and_mrr([{1: 1.0}, {3: 1.0}, {}, {7: 1.0}])  # first ranks 1, 3, none, 7, untied
    assert metrics == {
        "recall@1": 0.25,
        "recall@5": 0.5,
        "recall@10": 0.75,
        "mrr": pytest.approx((1 + 1 / 3 + 1 / 7) / 4),
    }
    assert expected_precision([[(1, 1), (1, 0)], [(1, 1), (1, 1)]], 2) == 0.75  # untied runs: flags ranked


def test_chance_matches_the_analytic_value():
    result = chance(100, [1] * 200)
    assert result["recall@10"] == pytest.approx(0.10, abs=0.02)
    assert result["recall@1"] == pytest.approx(0.01, abs=0.01)


def test_retrieval_bench_document_and_plot(tmp_path, settings):
    data = write_shared_layout(tmp_path / "data", per_pattern=3)
    encoder = create_encoder("default", settings)
    result = run_retrieval_bench(
        encoder,
        settings,
        [data / "openstax_ap2e" / "figures.jsonl"],
        [data / "atlas" / "cases.jsonl"],
        split="all",
    )
    tasks = result["tasks"]
    assert set(tasks) >= {"image_to_image_case", "image_to_image_label"}
    label = tasks["image_to_image_label"]
    assert label["n"] == 12 and {"visual", "chance"} <= set(label["methods"])
    for metrics in label["methods"].values():
        assert {"recall@1", "recall@5", "recall@10", "mrr", "precision@10"} <= set(metrics)
    # Synthetic patterns are easy for raw image features; chance is not (2 relevant among 11 candidates).
    assert label["methods"]["visual"]["mrr"] > label["methods"]["chance"]["mrr"] + 0.3
    assert label["methods"]["visual"]["precision@10"] == pytest.approx(0.2)  # both relevant found
    # Every image task carries the plain whole-image kNN baseline and names its default; over every query
    # only training-free methods are scored, the trained joint space only in the held-out twin task.
    for name in ("image_to_image_case", "image_to_image_label"):
        assert tasks[name]["baselines"] == ["plain-knn", "chance"] and "plain-knn" in tasks[name]["methods"]
        assert tasks[name]["default"] == "visual+specimen+majority" and "joint" not in tasks[name]["methods"]
        assert "visual+specimen" in tasks[name]["methods"]  # the row before the diagnosis vote, beside it
        held_out = tasks[f"{name}:held-out"]
        assert held_out["default"] == "visual+joint+specimen+majority"
        assert {"joint", "visual+joint", "plain-knn"} <= set(held_out["methods"])
    assert label["methods"]["plain-knn"]["mrr"] > label["methods"]["chance"]["mrr"]
    json.dumps(result)
    plot_curves(result, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 10_000


def test_text_to_page_on_the_demo_index(demo_index, tmp_path):
    from pathatlas.retrieval.bench.pages import text_to_page

    rows = [
        {
            "id": "a",
            "question": "Which cells have a perinuclear halo in HPV infection?",
            "options": ["Koilocytes", "Goblet cells"],
            "answer": "A",
            "gold": {"pdf_pages": [1, 1]},
            "chapter": "one",
        },
        {
            "id": "b",
            "question": "Which giant cells have nuclei in a horseshoe?",
            "options": ["Langhans", "Reed-Sternberg"],
            "answer": "A",
            "gold": {"pdf_pages": [2, 2]},
            "chapter": "two",
        },
        {"id": "c", "question": "No gold pages here", "options": ["x", "y"], "answer": "A"},
    ]
    path = tmp_path / "mcq.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    result = text_to_page(demo_index, path)
    assert result["n"] == 2 and set(result["methods"]) == {"bm25", "dense", "hybrid", "chance"}
    assert result["default"] == "hybrid" and set(result["baselines"]) == {"bm25", "dense", "chance"}
    assert result["methods"]["hybrid"]["recall@1"] == 1.0 and len(result["methods"]["bm25"]["curve"]) == 20
    assert result["methods"]["chance"]["recall@1"] < 0.5
    assert set(result["significance"]) == {"bm25", "dense"}
    for baseline, metrics in result["significance"].items():  # named and valued as the table shows them
        assert set(metrics) == {"recall@1", "recall@5", "recall@10", "mrr"}
        for metric, test in metrics.items():
            assert test["default"] == pytest.approx(result["methods"]["hybrid"][metric]), (baseline, metric)
            assert test[baseline] == pytest.approx(result["methods"][baseline][metric]), (baseline, metric)
    folded = text_to_page(demo_index, path, folds=2)
    assert [fold["n"] for fold in folded["folds"]] == [1, 1]
    assert [fold["chapters"] for fold in folded["folds"]] == [["one"], ["two"]]
    untuned = "the default is the shipped ranker (plain), chosen on the shared dev questions (mcq_dev.jsonl)"
    assert any(note.startswith(untuned) for note in result["notes"]), result["notes"]
    assert not any("not held out" in note for note in folded["notes"]), "folds report each fold held out"


@pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries
def test_significance_is_keyed_and_valued_as_the_tables_recall():
    """Our recall@k (a relevant item in the top k) is ranx's hit_rate@k, not ranx's recall@k (the share of relevant
    items found): q1 has two relevant items, so the two differ there."""
    assert [ranx_metric(m) for m in ("recall@1", "recall@10", "mrr", "precision@10")] == [
        "hit_rate@1",
        "hit_rate@10",
        "mrr",
        "precision@10",
    ]
    gold = [{"a", "a2"}, {"b"}, {"c"}]
    ranked = {"mine": [["a", "x"], ["x", "b"], ["c"]], "other": [["x", "a"], ["x", "y", "z", "w", "v", "b"], ["y"]]}
    result = compare_runs(["q1", "q2", "q3"], gold, ranked, "mine", metrics=("recall@1", "recall@5", "mrr"))
    assert set(result) == {"other"} and set(result["other"]) == {"recall@1", "recall@5", "mrr"}
    for name, lists in ranked.items():
        table = summarise([first_relevant_rank(items, g.__contains__) for items, g in zip(lists, gold, strict=True)])
        for metric, test in result["other"].items():
            assert test["default" if name == "mine" else name] == pytest.approx(table[metric]), (name, metric)
    assert result["other"]["recall@1"]["default"] == pytest.approx(2 / 3)  # ranx's recall@1 would be 1/2


def test_image_fusion_follows_the_configured_weights():
    """The benchmark's visual+joint row fuses with the settings' weights: a zero weight leaves the other
    space's order, a heavy one puts its top first."""
    from pathatlas.retrieval.bench.images import fuse

    orders = {"visual": [0, 1, 2, 3], "joint": [3, 2, 1, 0]}
    assert fuse(orders, {"visual": 1.0, "joint": 0.0}, k=60)[0] == [0, 1, 2, 3]
    assert fuse(orders, {"visual": 1.0, "joint": 4.0}, k=60)[0][0] == 3
    assert fuse(orders, {"visual": 1.0, "joint": 1.0}, k=60)[0][:2] in ([0, 3], [3, 0])
