"""Sources sharing a file name are cited apart, a renamed source is noted, the CLI's k is every door's, and a search
asking for more hits than its first candidates fold into reads deeper."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Citation, distinct_names
from pathatlas.retrieval.search import Query, Searcher
from tests.helpers import hashing_settings, only_error_line, run_cli


def pdf(path: Path, *pages: str) -> Path:
    """A PDF of ``pages``' texts at ``path``, its folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = pymupdf.open()
    for text in pages:
        doc.new_page().insert_textbox(pymupdf.Rect(40, 40, 560, 800), text, fontsize=11)
    doc.save(path)
    return path


def test_names_shared_by_sources_take_the_fewest_folders_that_tell_them_apart():
    keys = ["/srv/one/lab/notes.pdf", "/srv/two/lab/notes.pdf", "/srv/year1/notes.pdf", "/srv/other.pdf"]
    assert distinct_names(keys) == {
        "/srv/one/lab/notes.pdf": "one/lab/notes.pdf",
        "/srv/two/lab/notes.pdf": "two/lab/notes.pdf",
        "/srv/year1/notes.pdf": "year1/notes.pdf",
    }
    assert distinct_names(["/notes.pdf", "/srv/notes.pdf"]) == {
        "/notes.pdf": "notes.pdf",
        "/srv/notes.pdf": "srv/notes.pdf",
    }


def test_a_citation_back_from_json_keeps_its_distinct_name():
    cited = Citation("/srv/year2/notes.pdf", page=1, name="year2/notes.pdf")
    assert Citation.from_dict(cited.to_dict()).label() == cited.label() == "year2/notes.pdf, p. 1"


def test_two_sources_of_one_file_name_are_cited_by_their_folders(tmp_path):
    pdf(tmp_path / "courses" / "year1" / "notes.pdf", "Osteoclasts resorb bone matrix.")
    pdf(tmp_path / "courses" / "year2" / "notes.pdf", "Chondrocytes sit in lacunae of cartilage.")
    pdf(tmp_path / "courses" / "other.pdf", "Hepatocytes line the sinusoids.")
    home = tmp_path / "home"
    assert run_cli("index", tmp_path / "courses", "--index", tmp_path / "idx", home=home).exit_code == 0

    def cited(text: str) -> dict:
        result = run_cli("search", text, "--index", tmp_path / "idx", "--k", "1", "--json", home=home)
        assert result.exit_code == 0, result.output
        citation = json.loads(result.stdout)[0]["citation"]
        assert str(tmp_path) not in json.dumps(citation)  # never the server path
        return citation

    assert cited("chondrocytes")["source"] == "year2/notes.pdf"
    assert cited("osteoclasts")["label"] == "year1/notes.pdf, p. 1"
    assert cited("hepatocytes")["source"] == "other.pdf"  # a name of its own stays as it was
    filtered = run_cli(
        "search", "cells", "--index", tmp_path / "idx", "--filter", "source=year2/notes.pdf", "--json", home=home
    )
    assert filtered.exit_code == 0, filtered.output  # the name a citation gives is a source filter anywhere
    assert {hit["citation"]["source"] for hit in json.loads(filtered.stdout)} == {"year2/notes.pdf"}


def test_a_renamed_source_indexed_again_is_noted_beside_its_missing_copy(tmp_path):
    folder = tmp_path / "lectures"
    pdf(folder / "rotated.pdf", "Thyroid follicles hold colloid.")
    pdf(folder / "kept.pdf", "Parathyroid chief cells.")
    home, index = tmp_path / "home", tmp_path / "idx"
    assert run_cli("index", folder, "--index", index, home=home).exit_code == 0
    (folder / "rotated.pdf").rename(folder / "thyroid.pdf")
    for _ in range(2):  # indexed, then unchanged: both searched still, so said again
        result = run_cli("index", folder, "--index", index, home=home)
        assert result.exit_code == 0, result.output
        notes = [line for line in result.stderr.splitlines() if "same content" in line]
        assert notes == [
            "thyroid.pdf has the same content as rotated.pdf, which is missing on disk (renamed or moved?): both are "
            f"searched; 'pathatlas remove rotated.pdf --index {index}' drops the old copy"
        ], result.stderr
    assert run_cli("remove", "rotated.pdf", "--index", index, home=home).exit_code == 0
    assert "same content" not in run_cli("index", folder, "--index", index, home=home).stderr


@pytest.mark.parametrize("k", [0, 101, 100000])
def test_search_refuses_a_k_beyond_every_doors_limit(tmp_path, k):
    result = run_cli("search", "bone", "--k", k, "--index", tmp_path / "idx", home=tmp_path / "home")
    only_error_line(result, f"k must be between 1 and 100, not {k}")


def test_candidates_folding_into_fewer_than_k_pages_are_read_deeper(tmp_path):
    passages = " ".join(f"Bone remodels here, passage {n} of its page, with osteoclasts." for n in range(4))
    settings = hashing_settings(tmp_path, candidates=4, passage_min_words=1, passage_max_words=10)
    with Index.open(settings.index_dir, settings, create=True) as index:
        notes = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")  # six pages, not one printed six times
        Indexer(index, show_progress=False).add(pdf(tmp_path / "book.pdf", *[f"{passages} Note {n}." for n in notes]))
        asked: list[int] = []
        search = index.lexical.search
        index.lexical.search = lambda texts, k, filters=None: asked.append(k) or search(texts, k, filters)
        searcher = Searcher(index)
        assert len(searcher.search(Query("bone", k=2, use=("bm25",)))) == 2 and asked == [4]  # as before
        hits = searcher.search(Query("bone", k=6, use=("bm25",)))
    assert sorted(hit.citation.page for hit in hits) == [1, 2, 3, 4, 5, 6]
    deeper = asked[1:]  # tied passages fall on pages by their ids: one or two reads deeper, each four times the last
    assert deeper[:2] == [4, 16] and all(b == 4 * a for a, b in zip(deeper, deeper[1:], strict=False)), asked
