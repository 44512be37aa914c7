"""Review follow-ups. GET /pages's page and a page image's dpi are read in digits only. A 409 for an index another
process writes says Retry-After. Hashing encoder, a two-page book."""

from __future__ import annotations

import pytest
from filelock import FileLock

from pathatlas.retrieval.index import Index, IndexUnwritableError
from pathatlas.ui.api.deps import JOB_RETRY_SECONDS
from pathatlas.ui.bench_crash import make_pdf
from tests.uploads import AUTH, api_settings, book_service, sources, upload

NOTES = b"## Granulomas\n\n- Langhans giant cells ring the caseous centre\n"
NOT_PARSED = "Input should be a valid integer, unable to parse string as an integer"


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
