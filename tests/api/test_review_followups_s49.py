"""Review follow-ups. An upload folder goes with the last source citing it also where its mark names an index no longer
there (the index, or the whole home with it, moved) or it has none (made before marks): both were kept for ever; a
start after the home moved with its index sweeps that index's leftover folders, not a moved sibling's. GET /pages's
page and a page image's dpi are read in digits only. A 409 for an index another process writes says Retry-After.
Hashing encoder, a tiny notes file, a two-page book."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from filelock import FileLock

from pathatlas.retrieval.index import Index, IndexUnwritableError
from pathatlas.settings import OWNER_FILE, Settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.deps import JOB_RETRY_SECONDS
from pathatlas.ui.api.upload_folder import claim_upload
from pathatlas.ui.bench_crash import make_pdf
from tests.uploads import AUTH, api_settings, book_service, indexed, sources, upload

NOTES = b"## Granulomas\n\n- Langhans giant cells ring the caseous centre\n"
NOT_PARSED = "Input should be a valid integer, unable to parse string as an integer"


def uploaded(settings: Settings) -> Path:
    """stud.md uploaded to a service of ``settings`` and indexed: its upload folder."""
    with TestClient(create_app(settings)) as client:
        assert indexed(client, "stud.md", NOTES)["status"] == "done"
    (stored,) = (settings.home / "uploads").glob("*/stud.md")
    return stored.parent


def moved(settings: Settings, to: Path, what: str) -> Settings:
    """``settings`` once ``what`` moved to ``to``: the index alone, or the folder holding the home and the index."""
    if what == "index":
        return settings.model_copy(update={"index": settings.index_dir.rename(to)})
    return api_settings(settings.home.parent.rename(to))


def removed(settings: Settings, source: str) -> None:
    """``source`` removed through a service of ``settings``."""
    with TestClient(create_app(settings)) as client:
        answer = client.delete(f"/sources/{sources(client)[source]}", headers=AUTH)
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("what", ["index", "home and index"])
def test_the_last_removal_through_a_moved_index_deletes_its_upload_folder(tmp_path, what):
    settings = api_settings(tmp_path / "first")
    folder = uploaded(settings)
    after = moved(settings, tmp_path / "moved", what)
    here = after.home / "uploads" / folder.name
    assert (here / "stud.md").read_bytes() == NOTES
    removed(after, "stud.md")
    assert not here.exists(), "kept for ever: its mark names where the index was"


def test_an_upload_folder_made_before_marks_goes_with_its_last_source(tmp_path):
    settings = api_settings(tmp_path)
    folder = uploaded(settings)
    (folder / OWNER_FILE).unlink()
    removed(settings, "stud.md")
    assert not folder.exists()


def test_an_upload_replacing_its_namesake_in_a_moved_index_deletes_the_older_folder(tmp_path):
    settings = api_settings(tmp_path / "first")
    folder = uploaded(settings)
    after = moved(settings, tmp_path / "moved", "index")
    with TestClient(create_app(after)) as client:
        assert indexed(client, "stud.md", NOTES + b"\n- epithelioid histiocytes\n")["status"] == "done"
    (now,) = (after.home / "uploads").glob("*/stud.md")
    assert now.parent.name != folder.name and not folder.exists()


def leftover(settings: Settings, name: str, index: Path) -> Path:
    """An unclaimed upload folder marked as ``index``'s that no source cites (its job killed before a commit)."""
    folder = settings.home / "uploads" / name
    claim_upload(folder, index).release()
    (folder / "atlas.pdf").write_bytes(b"%PDF-1.4\n")
    return folder


def test_a_start_after_the_home_moved_with_its_index_sweeps_its_own_leftovers_only(tmp_path):
    settings = api_settings(tmp_path / "first")
    cited = uploaded(settings)
    own = leftover(settings, "a0000000000a", settings.index_dir)
    sibling = leftover(settings, "b0000000000b", tmp_path / "first" / "sibling")  # moved away too, or deleted
    after = moved(settings, tmp_path / "moved", "home and index")
    with TestClient(create_app(after)):
        pass
    uploads = after.home / "uploads"
    assert (uploads / cited.name / "stud.md").is_file(), "a source cites it"
    assert not (uploads / own.name).exists(), "this index's, marked where it was"
    assert (uploads / sibling.name / "atlas.pdf").is_file(), "another index's: it may be served elsewhere"


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    with book_service(tmp_path_factory.mktemp("digits"), "digits") as served:
        yield served


def page_id(client, number: str) -> str:
    answer = client.get("/pages", params={"source": "book.pdf", "page": number})
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


@pytest.mark.parametrize(("name", "given"), [("page", "1.0"), ("page", "0_1"), ("dpi", "1_10"), ("dpi", "110.0")])
def test_a_page_or_dpi_written_otherwise_than_in_digits_is_refused(book, name, given):
    if name == "page":
        refused = book.get("/pages", params={"source": "book.pdf", "page": given})
    else:
        refused = book.get(f"/media/pages/{page_id(book, '1')}", params={"dpi": given})
    assert refused.status_code == 422, refused.text
    not_parsed = {"type": "int_parsing", "loc": ["query", name], "msg": NOT_PARSED, "input": given}
    assert refused.json()["detail"] == [not_parsed]


def test_a_page_or_dpi_in_digits_is_still_taken_and_documented_as_an_integer(book):
    second = book.get(f"/records/{page_id(book, ' 2 ')}").json()
    assert second["citation"]["page"] == 2
    image = book.get(f"/media/pages/{page_id(book, '+1')}", params={"dpi": "72"})
    assert (image.status_code, image.headers["content-type"]) == (200, "image/png")
    paths = book.get("/openapi.json").json()["paths"]
    (page,) = [p for p in paths["/pages"]["get"]["parameters"] if p["name"] == "page"]
    assert (page["required"], page["schema"]["type"], page["schema"]["minimum"]) == (True, "integer", 1)
    (dpi,) = [p["schema"] for p in paths["/media/pages/{record_id}"]["get"]["parameters"] if p["name"] == "dpi"]
    assert (dpi["type"], dpi["minimum"], dpi["maximum"], dpi["default"]) == ("integer", 36, 300, 110)


def test_a_409_for_an_index_another_process_writes_says_when_to_try_again(tmp_path):
    again = make_pdf(tmp_path / "again.pdf", 2, "again").read_bytes()
    with book_service(tmp_path, "busy") as client:
        book_id = sources(client)["book.pdf"]
        with FileLock(api_settings(tmp_path).index_dir / "write.lock"):  # as another process's index run holds it
            refusals = {"POST /jobs": upload(client, "again.pdf", again)}
            refusals["DELETE /sources"] = client.delete(f"/sources/{book_id}", headers=AUTH)
    for route, refused in refusals.items():
        assert refused.status_code == 409, (route, refused.text)
        assert refused.headers.get("Retry-After") == str(JOB_RETRY_SECONDS), route


def test_a_409_for_an_index_that_cannot_be_written_promises_no_retry(tmp_path, monkeypatch):
    """Waiting does not make a read-only index writable."""

    def read_only(index):
        raise IndexUnwritableError(f"index {index.path} is read-only (Read-only file system)")

    with book_service(tmp_path, "read-only") as client:
        book_id = sources(client)["book.pdf"]
        monkeypatch.setattr(Index, "_try_write_lock", read_only)
        refused = client.delete(f"/sources/{book_id}", headers=AUTH)
    assert refused.status_code == 409, refused.text
    assert "Retry-After" not in refused.headers
