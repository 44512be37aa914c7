"""What the product adds over plain search: readable hits, facets and filters, find-similar from stored vectors,
the viewer's records, batching lanes, clean ``--json`` output and commands that never load a model."""

from __future__ import annotations

import json
import os
import re
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from pathatlas.retrieval.index import Index
from pathatlas.retrieval.marks import query_terms
from pathatlas.retrieval.records import Citation
from pathatlas.retrieval.search import Searcher
from pathatlas.retrieval.similar import similar
from pathatlas.settings import Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.lanes import BatchingLane
from pathatlas.ui.bench_startup import FreshRun, run_fresh
from pathatlas.ui.present import citation_text, group_cases, highlight


@pytest.fixture(scope="module")
def client(demo_index):
    """The API over the demo index (read-only use)."""
    settings = Settings(home=demo_index.settings.home, index=demo_index.path)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_hits_say_how_relevant_and_why_in_words(client):
    hits = client.post("/search", json={"text": "koilocytes perinuclear halo", "k": 6}).json()["hits"]
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    assert hits[0]["relevance"] == "best match" and hits[0]["relative_score"] == 1.0
    assert all(0 < h["relative_score"] <= 1.0 for h in hits)
    assert all(h["relevance"] in ("best match", "strong match", "good match", "related") for h in hits)
    assert re.search(r"(words|meaning) #\d", hits[0]["why"])
    assert any(h["has_image"] for h in hits if h["kind"] in ("figure", "case"))


def test_a_query_no_word_of_which_is_indexed_claims_no_match_but_still_ranks(client):
    """BM25 finds nothing, so every hit is found by meaning alone: each is "related" (nonsense has a nearest meaning
    too, no "best match"), while the scores relative to the first still fall with the rank."""
    hits = client.post("/search", json={"text": "qqxzv wwkrt", "k": 8}).json()["hits"]
    assert len(hits) == 8 and all("words" not in h["why"] for h in hits)
    assert {h["relevance"] for h in hits} == {"related"}
    assert all(0 < h["relative_score"] <= 1.0 for h in hits)
    assert [h["relative_score"] for h in hits] == sorted((h["relative_score"] for h in hits), reverse=True)


@pytest.mark.parametrize("text", ["koilocytes perinuclear halo", "qqxzv wwkrt"])
def test_a_hits_relevance_does_not_depend_on_how_many_are_asked_for(client, text):
    """The same hit at the same rank reads the same whether 3 or 12 hits are shown (with or without words found)."""
    few, many = (client.post("/search", json={"text": text, "k": k}).json()["hits"] for k in (3, 12))
    assert len(many) == 12
    shown = [(h["id"], h["relevance"], h["relative_score"]) for h in few]
    assert shown == [(h["id"], h["relevance"], h["relative_score"]) for h in many[:3]]


def test_facets_list_values_and_filters_use_them(client):
    facets = client.get("/facets").json()
    organs = {v["value"]: v["count"] for v in facets["fields"]["organ"]}
    assert organs["lung"] == 8 and organs["cervix"] == 2
    assert {v["value"] for v in facets["fields"]["kind"]} == {"page", "passage", "figure", "case"}
    pdf = next(s["id"] for s in client.get("/sources").json() if s["source"].endswith(".pdf"))
    assert facets["by_source"][pdf] == {"page": 4, "passage": 4, "figure": 6}, "sources by id, never by path"
    assert {v["value"]: v["label"] for v in facets["fields"]["source"]}[pdf].endswith(".pdf")
    hits = client.post("/search", json={"text": "cells", "k": 20, "filters": {"source": pdf}}).json()["hits"]
    assert hits and {h["citation"]["source_id"] for h in hits} == {pdf}, "a facet's value filters"
    hits = client.post("/search", json={"text": "cells", "k": 20, "filters": {"organ": "lung"}}).json()["hits"]
    assert hits and {h["organ"] for h in hits} == {"lung"}
    chapter = next(v["value"] for v in facets["fields"]["chapter"] if "Lung" in v["value"])
    hits = client.post("/search", json={"text": "cells", "k": 20, "filters": {"chapter": chapter}}).json()["hits"]
    assert hits and {h["citation"]["page"] for h in hits} == {3}


def test_find_similar_uses_stored_vectors_and_skips_the_case_itself(client, demo_index):
    case = client.post("/search", json={"text": "granuloma", "k": 5, "filters": {"kind": "case"}}).json()["hits"][0]
    response = client.post("/search/similar", json={"id": case["id"], "k": 5})
    hits = response.json()["hits"]
    assert len(hits) == 5 and all(h["citation"]["case"] != case["citation"]["case"] for h in hits)
    assert "appearance" in hits[0]["why"]
    only_cases = client.post("/search/similar", json={"id": case["id"], "k": 5, "filters": {"kind": "case"}})
    assert {h["kind"] for h in only_cases.json()["hits"]} == {"case"}
    assert client.post("/search/similar", json={"id": "0" * 24}).status_code == 404
    # No model is needed: a fresh index whose encoder was never built answers, and still has none after.
    fresh = Index.open(demo_index.path, demo_index.settings)
    assert [h.id for h in similar(Searcher(fresh), case["id"], 5)] == [h["id"] for h in hits]
    assert fresh._encoder is None


def test_viewer_records_pages_and_pdf(client):
    hit = client.post("/search", json={"text": "granuloma giant cells", "k": 3}).json()["hits"][0]
    source = hit["citation"]["source"]
    page2 = client.get("/pages", params={"source": source, "page": 2}).json()
    assert page2["kind"] == "page" and page2["citation"]["page"] == 2 and page2["page_url"]
    assert client.get("/pages", params={"source": source, "page": 99}).status_code == 404
    assert client.get(f"/records/{page2['id']}").json()["snippet"]
    pdf = client.get(f"/records/{page2['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    case = client.post("/search", json={"text": "lymphoma", "k": 3, "filters": {"kind": "case"}}).json()["hits"][0]
    assert client.get(f"/records/{case['id']}/pdf").status_code == 404


def test_lane_batches_waiting_items_and_isolates_a_failure():
    gate = threading.Event()
    seen: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        gate.wait(5)
        seen.append(items)
        if 13 in items:
            raise ValueError("unlucky")
        return [i * 2 for i in items]

    lane = BatchingLane("test", run, max_batch=8)
    futures = [lane.submit(i) for i in range(10)] + [lane.submit(13)]
    time.sleep(0.05)  # let the worker take the first item and block on the gate
    gate.set()
    assert [f.result(5) for f in futures[:10]] == [i * 2 for i in range(10)]
    with pytest.raises(ValueError, match="unlucky"):
        futures[10].result(5)
    assert lane.batches < 11  # items waiting together ran together
    lane.close()


def test_presentation_helpers():
    terms = query_terms("Which cells show koilocytes in the cervix?")
    assert terms == ["cells", "koilocytes", "cervix"]
    marked = highlight("A koilocyte <b>halo</b>; cervical cells.", terms)
    assert marked == "A <mark>koilocyte</mark> &lt;b&gt;halo&lt;/b&gt;; <mark>cervical</mark> <mark>cells</mark>."
    cited = Citation("/x/book.pdf", 3, "Figure 3.1", page_label="13", book="A Book").to_dict()
    hit = {"citation": {**cited, "source": "/x/book.pdf"}, "book": "A Book", "kind": "figure"}
    assert citation_text(hit) == "A Book (book.pdf), p. 13 (PDF p. 3), Figure 3.1. /x/book.pdf", "the page as printed"
    case = Citation("/c/cases", case="DEMO-01", image="images/DEMO-01-2.jpg").to_dict()
    untitled = {"citation": {**case, "source": "/c/cases"}, "kind": "case", "diagnosis": "LSIL"}
    assert citation_text(untitled) == "cases, case DEMO-01, images/DEMO-01-2.jpg, LSIL. /c/cases", "as the label"
    writer = {"citation": Citation("tissues.pdf", 6, book=None).to_dict(), "book": "Microsoft Word - tissues.docx"}
    assert citation_text(writer) == "tissues.pdf, p. 6", "the file is named once, a writer's default title not at all"
    case = {"kind": "case", "citation": {"source": "/c", "case": "7"}}
    assert [len(c) for c in group_cases([case, hit, dict(case), hit])] == [2, 1, 1]


def test_indexed_text_reaches_the_page_as_text_not_markdown():
    """A PDF's or a case file's text goes through Streamlit's Markdown (CommonMark): nothing in it may become an
    image fetched from another server, a link, emphasis or a block of its own."""
    from markdown_it import MarkdownIt

    from pathatlas.ui.present import plain

    markdown = MarkdownIt("commonmark")
    planted = "See ![x](http://evil.example/t.png) and [here](http://evil.example) *now*\n\n# big _x_ :red[y] $z$ 1."
    rendered = markdown.render(plain(planted))
    assert rendered.startswith("<p>") and rendered.count("<p>") == 1
    assert not any(tag in rendered for tag in ("<img", "<a ", "<em>", "<h1>", "<ol>")), rendered
    assert "![x](http://evil.example/t.png)" in rendered and ":red[y] $z$ 1." in rendered, "shown as written"
    smuggled = highlight("a passage\n\n![x](http://evil.example/t.png)", [])
    assert "\n" not in smuggled, "a blank line would end the snippet's HTML block and let Markdown read the rest"


NO_MODEL = {"faiss"}
"""Of ``bench_startup.HEAVY``, what a command that loads no model may import: it opens the store."""


def run_cli(*args: str, home) -> FreshRun:
    env = {"PATHATLAS_HOME": str(home), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    env["PATHATLAS_FIGURE_OCR"] = os.environ["PATHATLAS_FIGURE_OCR"]  # as the demo index was built
    return run_fresh(list(args), env=env, timeout=300)


def test_commands_without_a_model_never_import_torch(demo_index, demo_corpus):
    home = demo_index.settings.home
    info = run_cli("info", "--index", str(demo_index.path), "--json", home=home)
    assert info.done.returncode == 0, info.done.stderr
    assert json.loads(info.done.stdout)["records"] == 30  # 4 pages, their 4 passages, 6 figures, 16 case images
    assert set(info.heavy_modules) <= NO_MODEL
    unchanged = run_cli("index", str(demo_corpus), "--index", str(demo_index.path), "--json", home=home)
    assert unchanged.done.returncode == 0, unchanged.done.stderr
    assert {s["status"] for s in json.loads(unchanged.done.stdout)} == {"unchanged"}
    assert set(unchanged.heavy_modules) <= NO_MODEL


def test_a_text_search_needs_neither_torch_nor_numba(demo_index):
    """A one-off text search encodes its query with MiniLM in ONNX Runtime (the export indexing wrote) and
    tokenizes without bm25s's numba."""
    assert list((demo_index.settings.home / "cache").glob("all-minilm-l6-v2-*-int8.onnx"))
    found = run_cli("search", "koilocytes", "--index", str(demo_index.path), "--json", home=demo_index.settings.home)
    assert found.done.returncode == 0, found.done.stderr
    assert json.loads(found.done.stdout)[0]["kind"] in ("page", "figure", "case")
    assert set(found.heavy_modules) <= NO_MODEL


def test_search_json_is_only_json_even_when_a_model_talks(demo_index, tmp_path):
    image = tmp_path / "q.png"
    from pathatlas.corpora.demo import draw_pattern

    draw_pattern("glands", 3).save(image)
    found = run_cli(
        "search", "--image", str(image), "--index", str(demo_index.path), "--json", home=demo_index.settings.home
    ).done
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["kind"] in ("figure", "case", "page")  # stdout parses as is
    home = demo_index.settings.home
    missing = run_cli("search", "granuloma", "--index", str(tmp_path / "none"), "--json", home=home).done
    assert missing.returncode == 1 and missing.stdout == "" and "error:" in missing.stderr


def test_bench_startup_times_fresh_processes_and_names_a_failing_command(demo_index, tmp_path, monkeypatch):
    from pathatlas.errors import BadInputError
    from pathatlas.ui.bench_startup import bench_startup, time_serve

    monkeypatch.setenv("PATHATLAS_HOME", str(demo_index.settings.home))
    from pathatlas.corpora.demo import draw_pattern

    draw_pattern("koilocytes", 3).save(tmp_path / "slide.png")
    result = bench_startup(demo_index.path, None, "koilocytes", repeats=1, image=tmp_path / "slide.png")
    assert set(result) == {"help", "info", "text search", "image search", "serve until ready"}
    assert all(r["median_s"] > 0 and r["cpu_s"] > 0 for r in result.values())
    served = result["serve until ready"]
    assert 0 < served["listening_s"] <= served["median_s"] and served["heavy_modules"] is None
    assert set(result["text search"]["heavy_modules"]) <= NO_MODEL
    assert not {"torch", "torchvision"} & set(result["image search"]["heavy_modules"]), "ONNX Runtime and numpy"
    with pytest.raises(BadInputError, match="pathatlas info .* failed: .*no PathAtlas index"):
        bench_startup(tmp_path / "none", None, "x", repeats=1)
    (tmp_path / "a-file").write_text("not an index")
    with pytest.raises(BadInputError, match="pathatlas serve failed: .*is a file, not an index folder"):
        time_serve(tmp_path / "a-file")


def test_minilm_gives_the_sentence_transformers_vectors_in_numpy_torch_and_onnx_runtime(session_home):
    from sentence_transformers import SentenceTransformer

    from pathatlas.retrieval.encoders import onnx_cache
    from pathatlas.retrieval.encoders.minilm import MiniLM
    from pathatlas.retrieval.encoders.towers import extracted_minilm

    folder = extracted_minilm(session_home / "cache")
    texts = ["koilocytes in cervical epithelium", "granuloma with giant cells " * 80, "x"]  # one is truncated
    reference = SentenceTransformer(str(folder), device="cpu").encode(texts, normalize_embeddings=True)
    model = MiniLM(folder)
    assert model.query_session is None  # no model cache given: numpy runs queries
    assert np.abs(model(texts, batch_size=2) - reference).max() < 1e-5  # a long pair in torch, "x" in numpy
    encoded = model.tokenizer.encode_batch(texts)
    ids, mask = (np.array([getattr(e, field) for e in encoded]) for field in ("ids", "attention_mask"))
    assert np.abs(model._embed_numpy(ids, mask) - reference).max() < 1e-5
    assert np.abs(model._embed_torch(ids, mask) - reference).max() < 1e-5
    exported = MiniLM(folder, onnx_dir=session_home / "cache")
    assert exported.query_session is not None and exported.export.is_file()  # torch is loaded: it exports
    exact = onnx_cache.session(exported.export, threads=1)
    assert np.abs(exact.run(None, {"ids": ids, "mask": mask})[0] - reference).max() < 1e-5
    queries = exported(texts[::2], queries=True)  # queries take ONNX Runtime with 8-bit weights: close, not equal
    assert 0.97 < (queries * reference[::2]).sum(1).min() < 0.99999
    assert np.abs(exported(texts[::2]) - reference[::2]).max() < 1e-5  # stored vectors stay exact


@pytest.mark.parametrize("store, url", [("faiss", None), ("qdrant", None), ("qdrant", ":memory:")])
def test_stores_return_stored_vectors_by_id(store, url, tmp_path):
    from pathatlas.retrieval.records import StoredVectors
    from pathatlas.retrieval.stores import open_store

    opened = open_store(store, tmp_path / "store", {"a": 4, "b": 3}, Settings(home=tmp_path, qdrant_url=url))
    a, b = np.array([0.6, 0.8, 0, 0], np.float32), np.array([0, 0, 1], np.float32)
    opened.upsert([StoredVectors("r1", {"kind": "case", "source": "x"}, {"a": a}), StoredVectors("r2", {}, {"b": b})])
    found = opened.vectors(["r1", "r2", "missing"])
    assert set(found) == {"r1", "r2"} and set(found["r1"]) == {"a"} and set(found["r2"]) == {"b"}
    assert np.allclose(found["r1"]["a"], a) and np.allclose(found["r2"]["b"], b)
    opened.close()


def test_an_unreadable_model_cache_file_is_one_line_error_and_removed(tmp_path):
    from pathatlas.errors import PathAtlasError
    from pathatlas.retrieval.encoders import onnx_cache

    broken = tmp_path / "model.onnx"
    broken.write_text("not a model")
    with pytest.raises(PathAtlasError, match="model cache file .*model.onnx was unreadable.*run again"):
        onnx_cache.session(broken, threads=1)
    assert not broken.exists()  # the next run rebuilds it instead of failing again
