"""``pathatlas export``: an index copied into Qdrant (here qdrant-client's local twin) searches the same."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pathatlas.corpora.demo import draw_pattern
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.settings import Settings
from pathatlas.ui.cli import app


def test_export_then_the_same_search_code_runs_against_qdrant(demo_index, session_home, tmp_path):
    twin, out = tmp_path / "qdrant-twin", tmp_path / "exported"
    result = CliRunner().invoke(
        app,
        ["export", "--index", str(demo_index.path), "--to", str(twin), "--collection", "demo", "--out", str(out)],
        env={"PATHATLAS_HOME": str(session_home)},
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "pathatlas.json").read_text())["store"] == "qdrant"
    assert not (out / "store" / "v000001").exists() and (demo_index.path / "store").is_dir()

    settings = Settings(home=session_home, index=out, qdrant_url=str(twin), qdrant_collection="demo")
    exported = Index.open(out, settings)
    try:
        assert exported.store.count() == demo_index.store.count()
        for space in demo_index.meta.dims:
            assert exported.store.count(space) == demo_index.store.count(space)
        queries = [
            Query(text="koilocytes in cervical epithelium", k=5),
            Query(text="koilocytes", k=5, filters={"kind": "figure"}),
            Query(image=draw_pattern("keratin-pearls", seed=4242), k=3, filters={"kind": "case"}),
            Query(text="granuloma", image=draw_pattern("granuloma", 77), k=5, filters={"organ": "lymph node"}),
        ]
        faiss_rankings = Searcher(demo_index).rankings(queries)
        qdrant_rankings = Searcher(exported).rankings(queries)
        for faiss_ranked, qdrant_ranked in zip(faiss_rankings, qdrant_rankings, strict=True):
            assert set(qdrant_ranked) == set(faiss_ranked)  # BM25 and every space the query reaches
            for ranker, expected in faiss_ranked.items():
                found = qdrant_ranked[ranker]
                # the same scores rank by rank (equal-score ties may come in either order) and the same records
                assert [s for _, s in found] == pytest.approx([s for _, s in expected], abs=1e-5), ranker
                by_id, cut = dict(found), expected[-1][1] + 1e-5 if expected else 0
                assert all(by_id.get(rid, -9) == pytest.approx(s, abs=1e-5) for rid, s in expected if s > cut), ranker
        for query in queries:
            assert Searcher(exported).search(query)[0].citation == Searcher(demo_index).search(query)[0].citation
    finally:
        exported.close()

    again = CliRunner().invoke(
        app,
        ["export", "--index", str(demo_index.path), "--to", str(twin), "--collection", "demo", "--out", str(out)],
        env={"PATHATLAS_HOME": str(session_home)},
    )
    assert again.exit_code == 1 and "already exists" in again.output
