"""The CLI's edges, session 38: ``info`` on an index with no records printed "records 0 ()"; ``pathatlas index .
--index .`` from inside a case folder wrote the index into it, whose walk then read the index's thumbnails as images
of the folder (changed at every run), and whose sweep of the index's ``media`` folder deleted the folder's own slides
kept there."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from PIL import Image

from pathatlas.indexer import pipeline as pipeline_module
from pathatlas.retrieval import index as index_module
from pathatlas.retrieval.index import MEDIA_PENDING, Index
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings, index_new, only_error_line, run_cli, two_cases

# -- 1. info on an index with no records ------------------------------------------------------------------------------


def test_info_on_an_index_with_no_records_counts_none_without_an_empty_list(tmp_path):
    settings = hashing_settings(tmp_path)
    Index.open(settings.index_dir, settings, create=True).close()
    result = run_cli("info", "--index", settings.index_dir, home=settings.home)
    assert result.exit_code == 0, result.output
    (records,) = [line for line in result.stdout.splitlines() if line.startswith("records")]
    assert records == "records 0  vectors text 0"


def test_info_json_of_an_index_with_no_records_is_json_alone_with_the_keys_of_a_full_one(tmp_path):
    settings = hashing_settings(tmp_path)
    Index.open(settings.index_dir, settings, create=True).close()
    empty = run_cli("info", "--index", settings.index_dir, "--json", home=settings.home)
    full = hashing_settings(tmp_path, index=tmp_path / "full")
    index_new(full, two_cases(tmp_path / "cases"))
    held = run_cli("info", "--index", full.index_dir, "--json", home=settings.home)
    described = json.loads(empty.stdout)  # the whole of stdout: nothing printed beside the document
    assert (described["records"], described["kinds"], described["sources"]) == (0, {}, {})
    assert described.keys() == json.loads(held.stdout).keys()


# -- 2. an index written into the case folder itself ------------------------------------------------------------------


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its path inside it, with its bytes."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize(
    "args",
    [
        (".", "--index", "."),  # from inside the case folder
        ("{cases}", "--index", "{cases}"),
        ("--index", "."),  # its sources again
        ("{book}", "--index", "."),  # another source, the index still in the case folder
    ],
)
def test_index_into_the_case_folder_itself_is_refused_in_one_line_before_any_write(tmp_path, monkeypatch, args):
    cases = two_cases(tmp_path / "cases")
    book = make_pdf(tmp_path / "book.pdf", 1, "alpha")
    before = files_under(cases)
    monkeypatch.chdir(cases)
    named = [arg.format(cases=cases, book=book) for arg in args]
    line = only_error_line(run_cli("index", *named, home=tmp_path / "home"), f"{cases} is a case folder")
    assert line.endswith(f"(--index {cases / 'index'})")
    assert files_under(cases) == before


def test_the_folder_the_refusal_names_indexes_the_cases_unchanged_at_the_next_run(tmp_path, monkeypatch):
    cases = two_cases(tmp_path / "cases")
    monkeypatch.chdir(cases)
    suggested = only_error_line(run_cli("index", ".", "--index", ".", home=tmp_path / "home"))
    index = suggested.rsplit("--index ", 1)[1].rstrip(")")
    for status in ("indexed", "unchanged"):
        result = run_cli("index", ".", "--index", index, "--json", home=tmp_path / "home")
        assert result.exit_code == 0, result.output
        assert [(s["status"], s["problems"]) for s in json.loads(result.stdout)] == [(status, [])]


def test_an_index_an_older_version_wrote_into_its_case_folder_keeps_its_records_and_the_slides(tmp_path, monkeypatch):
    """Slides kept in the case folder's media/ were the index's media folder: after a stopped run (its marker left), the
    next run's sweep deleted every file there that no record named, the slides with them."""
    cases = tmp_path / "cases"
    (cases / "media").mkdir(parents=True)
    for n, colour in enumerate(("red", "blue")):
        Image.new("RGB", (48, 48), colour).save(cases / "media" / f"slide{n}.png")
    (cases / "labels.csv").write_text(
        "image,case,diagnosis\nmedia/slide0.png,C-1,granuloma\nmedia/slide1.png,C-2,fibrosis\n"
    )
    with monkeypatch.context() as older:  # as a version before either refusal wrote it
        older.setattr(index_module, "KEPT_FOLDERS", ())
        older.setattr(pipeline_module, "refuse_case_folder_index", lambda folder: None)
        index_new(hashing_settings(tmp_path, index=cases), cases)
    (cases / MEDIA_PENDING).touch()  # as a run stopped mid-way leaves it
    before = files_under(cases)
    only_error_line(run_cli("index", cases, "--index", cases, home=tmp_path / "home"), "is a case folder")
    assert files_under(cases) == before
    found = run_cli("search", "granuloma", "--index", cases, "--json", home=tmp_path / "home")
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)[0]["citation"]["case"] == "C-1"


def test_serve_on_a_case_folder_is_refused_in_one_line_before_it_listens(tmp_path):
    cases = two_cases(tmp_path / "cases")
    before = files_under(cases)
    with socket.socket() as taken:  # a port in use: were the folder let through, the refusal to listen would end it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        line = only_error_line(run_cli("serve", "--index", cases, "--port", port, home=tmp_path / "home"))
    assert (
        line == f"error: {cases} is a case folder: the index needs a folder of its own, which may be inside it "
        f"(--index {cases / 'index'})"
    )
    assert files_under(cases) == before


def test_an_upload_to_a_service_whose_index_is_a_case_folder_fails_in_one_line_and_writes_nothing_there(tmp_path):
    """A service made in code (not ``serve``, which refuses first) indexed an uploaded PDF into the case folder."""
    from fastapi.testclient import TestClient

    from pathatlas.ui.api.app import create_app
    from tests.servers import job_ended
    from tests.uploads import upload

    cases = two_cases(tmp_path / "cases")
    before = files_under(cases)
    settings = hashing_settings(tmp_path, index=cases)
    with TestClient(create_app(settings)) as client:
        sent = upload(client, "book.pdf", make_pdf(tmp_path / "book.pdf", 1, "alpha").read_bytes(), headers={})
        assert sent.status_code == 202, sent.text
        job = job_ended(client, sent.json()["id"])
    assert job["status"] == "failed"
    assert (
        job["error"] == "cases is a case folder: the index needs a folder of its own, which may be inside it "
        "(--index cases/index)"
    ), "the one line, the server's paths named as it names them to clients"
    assert files_under(cases) == before
