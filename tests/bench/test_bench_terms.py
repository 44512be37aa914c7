"""``bench retrieval --terms FILE``: each line a short search, relevant to it the pages (through any of their records)
and page-less records holding every word of it; the default beside itself with the section rule off and with
every-word-first off, BM25 alone, dense alone and chance, with BEIR's capped recall beside P@10 and MRR."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from pathatlas.retrieval.bench.names import KNOB_OFF
from pathatlas.retrieval.bench.terms import CAPPED, SECTIONS_OFF, TASK, capped_scores
from pathatlas.retrieval.bench.trec import token
from tests.helpers import one_error_line, run_cli

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries

PAGES = [  # (its bookmark section, its text), a page each
    ("Bone tissue", "Periosteum and osteoclast: the periosteum covers bone, the osteoclast resorbs it. " * 3),
    ("Bone tissue", "Periosteum and osteoclast again: periosteum, osteoclast, periosteum and osteoclast. " * 2),
    ("Bone tissue", "The periosteum is a membrane; the periosteum has nerves; periosteum heals fractures. " * 2),
    ("Cartilage", "Cartilage has no periosteum and no osteoclast; chondrocytes sit in lacunae within it."),
    ("Cartilage", "An osteoclast erodes calcified cartilage at the growth plate, and an osteoclast is large."),
    *[("Marrow", f"Marrow note {n}: an osteoclast comes from the marrow; osteoclast, osteoclast.") for n in range(12)],
]
"""Pages 1, 2 and 4 hold both words of "periosteum osteoclast" (page 4 in a section of its own, scored below the
first section's two); pages 3 and 5 and twelve marrow pages hold one of them: 17 pages in all."""
HOLDING = [1, 2, 4]
TERMS = """# a search box's words
periosteum osteoclast

giant cell tumour
kidney
"""
"""Searches of pages, of a case (a page-less record) and of nothing the index holds, with a comment and a blank."""
METHODS = {"hybrid", SECTIONS_OFF, KNOB_OFF, "bm25", "dense", "chance"}


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """``idx``: a bookmarked book of ``PAGES`` and a case whose diagnosis holds "osteoclast" (hashing encoder, home
    ``home``), and the terms file ``terms.txt``."""
    root = tmp_path_factory.mktemp("terms")
    doc = pymupdf.open()
    for _, text in PAGES:
        doc.new_page(width=400, height=300).insert_textbox(pymupdf.Rect(30, 30, 370, 270), text, fontsize=8)
    doc.set_toc([[1, "Bone tissue", 1], [1, "Cartilage", 4], [1, "Marrow", 6]])
    doc.save(root / "book.pdf")
    cases = root / "cases"
    cases.mkdir()
    Image.new("RGB", (48, 48), "purple").save(cases / "c0.png")
    (cases / "labels.csv").write_text("image,case,diagnosis\nc0.png,GCT-1,osteoclast-rich giant cell tumour\n")
    indexed = run_cli("index", root / "book.pdf", cases, "--index", root / "idx", home=root / "home")
    assert indexed.exit_code == 0, indexed.output
    (root / "terms.txt").write_text(TERMS)
    return root


@pytest.fixture(scope="module")
def terms_run(library) -> tuple[dict, str]:
    """``bench retrieval --terms`` with its TREC runs: its JSON and its output."""
    args = ["bench", "retrieval", "--terms", library / "terms.txt", "--index", library / "idx"]
    result = run_cli(*args, "--json", library / "out.json", "--runs", library / "runs", home=library / "home")
    assert result.exit_code == 0, result.output
    return json.loads((library / "out.json").read_text()), result.output


def row(task: dict, term: str) -> dict:
    return next(q for q in task["per_question"] if q["id"] == term)


def test_each_method_has_its_figures_with_intervals_and_a_paired_test_against_the_default(terms_run, library):
    result, output = terms_run
    task = result["tasks"][TASK]
    assert set(task["methods"]) == METHODS and task["default"] == "hybrid"
    assert task["ablations"] == [SECTIONS_OFF, KNOB_OFF] and task["baselines"] == ["bm25", "dense", "chance"]
    for figures in task["methods"].values():
        assert set(figures) == {"precision@10", CAPPED, "mrr", "curve", "ci95"}
        assert all(low <= figures[metric] <= high for metric, (low, high) in figures["ci95"].items())
    assert set(task["significance"]) == METHODS - {"hybrid", "chance"}
    assert all(set(tests) == {"precision@10", "mrr", CAPPED} for tests in task["significance"].values())
    assert result["run"]["terms"] == str((library / "terms.txt").resolve()) and len(result["run"]["terms_sha256"]) == 64
    shown = " ".join(output.split())
    assert f"{TASK}, n=2" in shown and "R_cap@10" in shown and "P@10" in shown and "MRR@10" in shown
    assert f"hybrid vs {SECTIONS_OFF}, paired p" in shown and "over these 12 paired tests" in shown
    assert "the gold is lexical" in shown and "favoured by construction" in shown


def test_relevant_are_the_pages_and_records_holding_every_word_and_the_default_shows_them_first(terms_run):
    result, _ = terms_run
    task = result["tasks"][TASK]
    pages, case = row(task, "periosteum osteoclast"), row(task, "giant cell tumour")
    assert pages["relevant"] == len(HOLDING) and case["relevant"] == 1  # not the 16 pages holding one word
    assert pages["holding_in_top_10"]["hybrid"] == len(HOLDING)
    # the default's known ranking: every holding item in its top 10, first; P@10 = 3/10 and 1/10
    hybrid = task["methods"]["hybrid"]
    assert hybrid["precision@10"] == pytest.approx((3 / 10 + 1 / 10) / 2)
    assert hybrid[CAPPED] == 1.0 and hybrid["mrr"] == 1.0
    # chance ranks the 17 pages and the case: each of its top 10 holds every word with chance relevant / 18
    assert task["methods"]["chance"]["precision@10"] == pytest.approx((3 / 18 + 1 / 18) / 2)
    assert task["methods"]["chance"][CAPPED] == pytest.approx((10 * 3 / 18 / 3 + 10 * 1 / 18 / 1) / 2)


def test_a_term_no_record_holds_is_counted_and_left_out_with_a_note(terms_run):
    result, output = terms_run
    task = result["tasks"][TASK]
    assert task["n"] == 2 and task["left_out_terms"] == ["kidney"]
    assert [q["id"] for q in task["per_question"]] == ["periosteum osteoclast", "giant cell tumour"]
    assert "1 terms left out of every figure, no record holding every word of them: 'kidney'" in " ".join(
        output.split()
    )


def ranked(run: Path, term: str) -> list[str]:
    """The documents a TREC run ranks for ``term``, in its order."""
    return [line.split()[2] for line in run.read_text().splitlines() if line.split()[0] == token(term)]


def test_the_section_rule_off_is_the_default_searched_with_pages_per_section_0(terms_run, library):
    term, fourth = "periosteum osteoclast", "book.pdf:p4"
    shown = ranked(library / "runs" / f"{TASK}.hybrid.trec", term)[:3]
    by_score = ranked(library / "runs" / f"{TASK}.{token(SECTIONS_OFF)}.trec", term)[:3]
    assert set(shown) == set(by_score) == {f"book.pdf:p{page}" for page in HOLDING}
    assert by_score[2] == fourth and shown == [by_score[0], fourth, by_score[1]]  # its section before the first's next


def test_bm25_alone_ranks_in_its_own_order_with_neither_rule(terms_run, library):
    """BM25's top three are the first section's three pages, page 3 holding one word among them: with the section rule
    the second would be another section's page, with every-word-first page 4 would be above page 3."""
    bm25 = ranked(library / "runs" / f"{TASK}.bm25.trec", "periosteum osteoclast")
    assert set(bm25[:3]) == {"book.pdf:p1", "book.pdf:p2", "book.pdf:p3"} and bm25[3] == "book.pdf:p4"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("# nothing but a comment\n\n", ("holds no search",)),
        ("bone\nthe of\n", ("line 2", "only common words")),
        ("bone\ncells tissues organs systems bones muscles nerves\n", ("line 2", "7 words", "at most 6")),
        ("bone\nmarrow\nBone\n", ("line 3", "repeats line 1")),
    ],
)
def test_a_bad_terms_file_is_refused_in_one_line_before_the_index_loads(tmp_path, text, words):
    (tmp_path / "terms.txt").write_text(text)
    args = ["bench", "retrieval", "--terms", tmp_path / "terms.txt", "--index", tmp_path / "no-index"]
    one_error_line(run_cli(*args, home=tmp_path / "home"), "--terms", *words)


def test_a_missing_file_and_one_whose_terms_no_record_holds_are_refused_in_one_line(library, tmp_path):
    missing = run_cli("bench", "retrieval", "--terms", tmp_path / "none.txt", home=tmp_path / "home")
    one_error_line(missing, "--terms", "no such file")
    (tmp_path / "unheld.txt").write_text("kidney\nnephron\n")
    args = ["bench", "retrieval", "--terms", tmp_path / "unheld.txt", "--index", library / "idx"]
    one_error_line(run_cli(*args, home=library / "home"), "--terms", "holds every word of any of its terms")


def test_capped_recall_counts_the_holding_items_of_the_top_10_over_at_most_10():
    found_all_it_could = [[(1, 1)] * 10 + [(1, 1)] * 2]  # 12 hold every word, the top 10 all of them
    two_of_three = [[(1, 1), (1, 0), (1, 1)] + [(1, 0)] * 7 + [(1, 1)]]
    tied_at_the_cut = [[(1, 0)] * 8 + [(4, 2)]]  # two of four tied at ranks 9-12: one in the top 10, expected
    scores = capped_scores([found_all_it_could, two_of_three, tied_at_the_cut], [12, 3, 2])
    assert scores.tolist() == pytest.approx([1.0, 2 / 3, 0.5])
