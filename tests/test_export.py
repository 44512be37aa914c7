"""``pathatlas export``: an index copied into Qdrant (here qdrant-client's local twin) searches the same."""

from __future__ import annotations

import json

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
        for query in queries:
            faiss_hits = Searcher(demo_index).search(query)
            qdrant_hits = Searcher(exported).search(query)
            assert [h.id for h in qdrant_hits] == [h.id for h in faiss_hits]
            assert [h.citation for h in qdrant_hits] == [h.citation for h in faiss_hits]
    finally:
        exported.close()

    again = CliRunner().invoke(
        app,
        ["export", "--index", str(demo_index.path), "--to", str(twin), "--collection", "demo", "--out", str(out)],
        env={"PATHATLAS_HOME": str(session_home)},
    )
    assert again.exit_code == 1 and "already exists" in again.output
