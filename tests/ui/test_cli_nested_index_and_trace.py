"""A lecturer's first hour with the CLI, session 37: an index folder kept inside the case folder it indexes
(``pathatlas index . --index idx``) made that folder changed forever; ``info`` during a first index read as an old
version's index; ``index`` without paths counted "(1/5)" of six sources; ``ask --trace`` cut each step mid-JSON; and
the help's ``pathatlas search "your words"`` after the demo said only that the default index was missing."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from pathatlas.indexer.sources.fingerprints import content_hash, stat_signature
from pathatlas.retrieval.index import META_FILE, Index
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.cli import shortened, trace_line
from tests.helpers import hashing_settings, one_error_line, run_cli, two_cases

QUESTION = ("ask", "What does the alpha page hold?", "--option", "A=alpha", "--option", "B=omega")


def index_json(root: Path, *args) -> list[dict]:
    """``pathatlas index *args --json`` quick on ``root/home``, none failing: its sources' reports."""
    result = run_cli("index", *args, "--json", home=root / "home")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def states_on_disk(root: Path, index: Path) -> dict[str, str]:
    """``pathatlas info --json``'s state on disk of each source of ``index``, by its folder or file name."""
    result = run_cli("info", "--index", index, "--json", home=root / "home")
    assert result.exit_code == 0, result.output
    return {Path(key).name: entry["on_disk"] for key, entry in json.loads(result.stdout)["sources"].items()}


# -- 1. an index folder inside a case folder --------------------------------------------------------------------------


def test_an_index_inside_its_case_folder_leaves_the_folder_unchanged(tmp_path):
    """Its thumbnails were images no row lists: the folder was changed at once, and each run indexed it again."""
    cases = two_cases(tmp_path / "cases")
    (first,) = index_json(tmp_path, cases, "--index", cases / "idx")
    assert (first["status"], first["problems"]) == ("indexed", [])
    assert states_on_disk(tmp_path, cases / "idx") == {"cases": "ok"}
    (again,) = index_json(tmp_path, cases, "--index", cases / "idx")
    assert (again["status"], again["problems"]) == ("unchanged", [])


def test_an_index_deeper_in_the_case_folder_is_passed_by_but_an_unlisted_image_beside_it_is_not(tmp_path):
    cases = two_cases(tmp_path / "cases")
    index_json(tmp_path, cases, "--index", cases / "work" / "idx")
    (cases / "work" / "c0.png").write_bytes((cases / "c0.png").read_bytes())  # dropped in without its row
    (again,) = index_json(tmp_path, cases, "--index", cases / "work" / "idx")
    assert again["status"] == "indexed"
    assert again["problems"] == [f"{cases}: 1 image not listed in labels.csv, not indexed: work/c0.png"]


def test_a_server_of_an_index_inside_its_case_folder_serves_its_case_images(tmp_path):
    """A case image was 410 "the source changed since it was indexed", which indexing again never fixed."""
    cases = two_cases(tmp_path / "cases")
    settings = hashing_settings(tmp_path, index=cases / "idx")
    index_json(tmp_path, cases, "--index", settings.index)
    with Index.open(settings.index_dir, settings) as index:
        case = next(record for record, _ in index.store.scan({"kind": "case"}))
    with TestClient(create_app(settings)) as client:
        assert client.get(f"/media/cases/{case}").status_code == 200


# -- 2. info before the first commit ----------------------------------------------------------------------------------


def test_info_on_an_index_with_nothing_committed_says_so(tmp_path):
    """As a first index run leaves it until its first commit: it read "a PathAtlas not recording its version"."""
    settings = hashing_settings(tmp_path)
    Index.open(settings.index_dir, settings, create=True).close()
    result = run_cli("info", "--index", settings.index_dir, home=settings.home)
    assert result.exit_code == 0, result.output
    (writer,) = [line for line in result.stdout.splitlines() if line.startswith("writer")]
    assert writer == (
        "writer  none yet: nothing committed (a first index run is under way, or was stopped before its first commit)"
    )


# -- 3. index without paths, a source missing -------------------------------------------------------------------------


def test_index_without_paths_says_how_many_of_its_sources_it_cannot_read(tmp_path):
    books = [make_pdf(tmp_path / f"{name}.pdf", 1, name) for name in ("alpha", "beta", "gamma")]
    index_json(tmp_path, *books, "--index", tmp_path / "idx")
    books[1].rename(tmp_path / "moved.pdf")
    result = run_cli("index", "--index", tmp_path / "idx", home=tmp_path / "home")
    one_error_line(result, str(books[1]), "not found on disk")
    assert result.stderr.splitlines()[:3] == [
        "reading 2 of the index's 3 sources; 1 cannot be read again (listed below)",
        f"(1/2) {books[0]}",
        f"(2/2) {books[2]}",
    ]


# -- 4. ask --trace -------------------------------------------------------------------------------------------------


def test_ask_trace_shows_each_field_as_whole_json_and_json_keeps_the_trace_whole(tmp_path):
    index_json(tmp_path, make_pdf(tmp_path / "book.pdf", 8, "alpha"), "--index", tmp_path / "idx")
    shown = run_cli(*QUESTION, "--trace", "--index", tmp_path / "idx", home=tmp_path / "home")
    assert shown.exit_code == 0, shown.output
    full = run_cli(*QUESTION, "--json", "--index", tmp_path / "idx", home=tmp_path / "home")
    steps = json.loads(full.stdout)["trace"]
    search = next(step for step in steps if step["step"] == "search")
    assert len(json.dumps(search, ensure_ascii=False)) > 400  # the step the cut broke: its hits come last
    lines = [line for line in shown.stdout.splitlines() if line.startswith("search ")]
    assert lines == [f"search {trace_line(search)}"]
    hits = json.loads(lines[0].split(" hits=", 1)[1])  # it was cut mid-JSON, before "hits"
    assert hits == shortened(search["hits"], 400) and hits[0] == search["hits"][0]


def test_a_long_list_shows_its_first_items_and_how_many_more_a_long_text_its_start():
    hits = [{"id": f"{n:024x}", "citation": f"Book p. {n}"} for n in range(10)]
    shown = shortened(hits, 150)
    assert shown[:-1] == hits[: len(shown) - 1] and shown[-1] == f"+{10 - len(shown) + 1} more"
    assert len(json.dumps(shown[:-1])) <= 150 < len(json.dumps(hits[: len(shown)]))  # as many as fit
    assert shortened("x" * 500, 40) == "x" * 39 + "…"
    assert shortened({"rationale": "y" * 50, "score": 0.5}, 20) == {"rationale": "y" * 19 + "…", "score": 0.5}


# -- 5. the index the demo built --------------------------------------------------------------------------------------


def test_a_search_without_an_index_names_the_demo_index_when_there_is_one(tmp_path):
    home = tmp_path / "home"
    demo = home / "demo-index"
    settings = hashing_settings(tmp_path, index=demo)
    Index.open(settings.index_dir, settings, create=True).close()
    line = one_error_line(run_cli("search", "your words", home=home), f"no PathAtlas index at {home / 'index'}")
    assert line.endswith(f"; the demo's index is at {demo}: add --index {demo}")
    assert run_cli("search", "your words", "--index", demo, home=home).exit_code == 0  # the hint's command works


def test_no_demo_index_no_hint(tmp_path):
    line = one_error_line(run_cli("search", "your words", home=tmp_path / "home"), "no PathAtlas index at")
    assert "demo's index" not in line


def test_an_index_folder_inside_a_case_folder_is_none_of_its_files(tmp_path):
    """Its files counted in the folder's stat signature and content hash, so each ``info`` or served image found the
    folder changed and hashed it again (0.49 s for 900 tiles, against 0.05 s)."""
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"a")
    before = stat_signature(folder), content_hash(folder)
    (folder / "idx" / "media").mkdir(parents=True)
    (folder / "idx" / META_FILE).write_text("{}")
    (folder / "idx" / "media" / "t.jpg").write_bytes(b"t")
    assert (stat_signature(folder), content_hash(folder)) == before
    (folder / "b.png").write_bytes(b"b")
    assert stat_signature(folder) != before[0] and content_hash(folder) != before[1]
