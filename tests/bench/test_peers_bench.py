"""A reader re-running the comparison with the off-the-shelf peers (``retrieval/bench/peers.py``): a peer's ranked
chunks become pages where each page's first chunk ranks, every method is scored by text to page's questions, gold
pages, metrics and chapter folds (ours exactly as ``bench retrieval --mcq --folds`` reports it), a machine without
the peers is told in one line which extra installs them, and the real txtai and LangChain adapters find the page a
question is about."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from pathatlas.errors import BadInputError, MissingExtraError
from pathatlas.retrieval.bench.pages import text_to_page
from pathatlas.retrieval.bench.peers import (
    CHUNK_SIZE,
    LANGCHAIN,
    OURS,
    TXTAI,
    Chunk,
    book_pages,
    chunk_pages,
    langchain_ensemble,
    pages_ranked,
    pdf_pages,
    peers_bench,
    txtai_hybrid,
)
from pathatlas.retrieval.index import Index
from pathatlas.ui.bench_crash import make_pdf
from tests.bench.test_retrieval_bench_runs_and_labels import page_questions
from tests.helpers import hashing_settings, index_new, run_cli

pytestmark = [
    pytest.mark.filterwarnings("ignore:unsafe cast"),  # ranx's numba kernels on a few queries
]

PAGES = 12
BOOK = "/books/a.pdf"


def test_a_peers_chunks_become_pages_each_where_its_first_chunk_ranks():
    chunks = [Chunk((BOOK, 1), "a"), Chunk((BOOK, 1), "b"), Chunk((BOOK, 2), "c"), Chunk(("/books/b.pdf", 1), "d")]
    assert pages_ranked([1, 0, 3, 2], chunks) == [(BOOK, 1), ("/books/b.pdf", 1), (BOOK, 2)]
    assert pages_ranked([2, 1, 0, 3], chunks, depth=2) == [(BOOK, 2), (BOOK, 1)]


def test_chunks_are_cut_page_by_page_and_each_keeps_its_page():
    pytest.importorskip("langchain_text_splitters", reason="the peers' splitter: pip install 'pathatlas[peers]'")
    long_page = " ".join(f"word{i}" for i in range(600))  # about 4,700 characters
    chunks = chunk_pages([((BOOK, 1), "short page"), ((BOOK, 2), long_page)])
    assert chunks[0] == Chunk((BOOK, 1), "short page")
    assert len(chunks) > 5 and all(chunk.page == (BOOK, 2) for chunk in chunks[1:])
    assert all(len(chunk.text) <= CHUNK_SIZE for chunk in chunks)
    assert chunks[1].text.split()[-1] in chunks[2].text  # the splitter's default overlap


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """A 12-page book indexed with the hashing encoder, one question a page in three chapters: (index folder, questions,
    settings)."""
    root = tmp_path_factory.mktemp("s34-peers")
    pdf = make_pdf(root / "lib" / "book.pdf", PAGES, "v1")
    assert run_cli("index", pdf, "--index", root / "idx", home=root / "home").exit_code == 0
    rows = page_questions(PAGES, lambda page: ("one", "two", "three")[(page - 1) // 4])
    (root / "mcq.jsonl").write_text("\n".join(map(json.dumps, rows)))
    return root / "idx", root / "mcq.jsonl", hashing_settings(root, index=root / "idx")


def in_book_order(texts, model, depth):
    """A fake peer ranking the chunks as the book orders them: the question on page p finds its page at rank p."""
    return lambda queries: [list(range(len(texts)))[:depth] for _ in queries]


def test_a_fake_peer_is_scored_beside_ours_on_the_same_held_out_folds(book, tmp_path):
    folder, mcq, settings = book
    with Index.open(folder, settings) as index:
        ours = text_to_page(index, mcq, folds=2)
        result = peers_bench(index, mcq, folds=2, peers={"in order": in_book_order}, model=tmp_path, runs=tmp_path)
    methods = result["methods"]
    assert list(methods) == [OURS, "bm25", "in order", "chance"] and result["n"] == PAGES
    assert methods[OURS] == ours["methods"]["hybrid"] and methods["bm25"] == ours["methods"]["bm25"]
    assert methods["in order"]["recall@1"] == pytest.approx(1 / PAGES)
    assert methods["in order"]["recall@5"] == pytest.approx(5 / PAGES)
    assert methods["in order"]["mrr"] == pytest.approx(sum(1 / p for p in range(1, 11)) / PAGES)  # MRR@10
    assert methods["chance"] == ours["methods"]["chance"]
    assert set(result["significance"]) == {"bm25", "in order"}
    assert [fold["n"] for fold in result["folds"]] == [fold["n"] for fold in ours["folds"]]
    assert [fold["methods"][OURS] for fold in result["folds"]] == [fold["methods"]["hybrid"] for fold in ours["folds"]]
    assert result["folds"][0]["chapters"] == ["one", "three"] and result["folds"][0]["default_label"] == "held out"
    assert (tmp_path / "in%20order.trec").read_text().startswith("q1 Q0 ")
    assert (tmp_path / "pathatlas.fold1.trec").read_text().startswith("q5 Q0 ")  # ours chosen per fold: one run each


def test_a_machine_without_the_peers_is_told_which_extra_installs_them_before_anything_runs(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "txtai", None)  # import txtai fails as it does where it is not installed
    with pytest.raises(MissingExtraError, match=r"^txtai is not installed: pip install 'pathatlas\[peers\]'$"):
        peers_bench(None, tmp_path / "no-such.jsonl")


def installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in modules)


TOY_PAGES = [
    ((BOOK, 1), "The femur is the longest bone of the thigh; its head meets the acetabulum of the hip bone."),
    ((BOOK, 2), "Cardiac muscle cells are joined by intercalated discs, so the heart contracts as one syncytium."),
    ((BOOK, 3), "Alveoli of the lungs exchange oxygen and carbon dioxide across a thin respiratory membrane."),
]
TOY_QUESTION = "Which structures join cardiac muscle cells? intercalated discs; tendons; ligaments"


@pytest.mark.parametrize(
    ("build", "modules"),
    [
        (txtai_hybrid, ("txtai", "langchain_text_splitters")),
        (langchain_ensemble, ("langchain_community", "langchain_classic", "langchain_text_splitters", "rank_bm25")),
    ],
    ids=[TXTAI, LANGCHAIN],
)
def test_each_real_peer_finds_the_page_a_question_is_about(build, modules, session_home):
    if not installed(*modules):
        pytest.skip(f"needs {', '.join(modules)}: pip install 'pathatlas[peers]'")
    from pathatlas.retrieval.encoders.towers import extracted_minilm

    chunks = chunk_pages(TOY_PAGES)
    search = build([chunk.text for chunk in chunks], extracted_minilm(session_home / "cache"), 10)
    (found,) = search([TOY_QUESTION])
    assert pages_ranked(found, chunks)[0] == (BOOK, 2)
    assert sorted(pages_ranked(found, chunks)) == [key for key, _ in TOY_PAGES]


def test_the_command_prints_the_peers_beside_ours_and_refuses_one_fold_in_one_line(book, session_home, tmp_path):
    if not installed("txtai", "langchain_community", "langchain_classic", "langchain_text_splitters", "rank_bm25"):
        pytest.skip("needs the peers: pip install 'pathatlas[peers]'")
    folder, mcq, _ = book
    one = run_cli("bench", "peers", "--mcq", mcq, "--index", folder, "--folds", "1", home=session_home)
    assert one.exit_code != 0 and one.output.strip().splitlines() == [
        "error: --folds 1: use 0 (no folds) or at least 2"
    ]
    ran = run_cli("bench", "peers", "--mcq", mcq, "--index", folder, "--folds", "2", "--json", "-", home=session_home)
    assert ran.exit_code == 0, ran.output
    methods = json.loads(ran.stdout)["methods"]
    assert list(methods) == [OURS, "bm25", TXTAI, LANGCHAIN, "chance"]
    assert all(0 <= methods[name]["recall@1"] <= 1 for name in methods)


def test_the_peers_can_read_each_page_as_pymupdf_gives_it_and_a_missing_pdf_is_refused_in_one_line(book, tmp_path):
    """``--peer-text pdf``: a peer's user loads the PDF page by page (running headers and all), not our page texts."""
    import pymupdf

    folder, mcq, settings = book
    with Index.open(folder, settings) as index:
        read = pdf_pages(index)
        assert [key for key, _ in read] == [key for key, _ in book_pages(index)]
        with pymupdf.open(read[0][0][0]) as pdf:
            assert [text for _, text in read] == [pdf[page - 1].get_text() for (_, page), _ in read]
        with pytest.raises(BadInputError, match="^--peer-text 'raw': use one of index, pdf$"):
            peers_bench(index, mcq, folds=2, peers={"in order": in_book_order}, model=tmp_path, text="raw")
    gone = make_pdf(tmp_path / "gone.pdf", 2, "v1")
    local = settings.model_copy(update={"index": tmp_path / "idx"})
    index_new(local, gone)
    gone.unlink()
    with Index.open(local.index_dir, local) as index, pytest.raises(BadInputError) as refused:
        pdf_pages(index)
    assert str(refused.value).startswith(f"--peer-text pdf: cannot read the indexed pages of {gone}: ")
    assert "\n" not in str(refused.value)
