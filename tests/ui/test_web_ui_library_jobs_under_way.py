"""The Library during and after an upload, as a student's walk met it (session 47): a reload or another tab chosen while
an upload was indexed left no bar, no "indexing" and never "done", since only the run that sent the upload followed
its job; the new source's row then read 0 pages and 0 figures beside its entries (the facets cached for a minute for
every session, GET /sources not); and an upload refused as already indexed told a student to send DELETE /sources/…
instead of pointing to the page's own "Remove a source". The app's drawing in Streamlit's AppTest over a fake API
(``fetch``), as in test_web_ui_library_jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from pathatlas.ui import present, web_client, web_library
from pathatlas.ui.api.duplicates import IN_ITS_PLACE, TWIN_WORDS, ZIP_COPY_INSTEAD, same_file
from tests.ui.test_web_ui_library_and_search_lines import unescaped
from tests.ui.test_web_ui_library_jobs import followed_to_the_end, json_answer, library

JOB_ID = "66cf6c61cad2"
UPLOAD = "muscle-d.pdf"
OLD = {"id": "a1b2c3d4e5f6", "source": "primer.pdf", "kind": "pdf", "entries": 14, "cases": 0, "problems": []}
NEW = {"id": "5f0164f7516c", "source": UPLOAD, "kind": "pdf", "entries": 43, "cases": 0, "problems": []}
KINDS = {OLD["id"]: {"page": 4, "passage": 4, "figure": 6}, NEW["id"]: {"page": 8, "passage": 27, "figure": 8}}


def sent(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def job(status: str, done: int, source: str = UPLOAD, job_id: str = JOB_ID) -> dict:
    return {"id": job_id, "status": status, "source": source, "done": done, "total": 8, "error": None, "notes": []}


def facets_of(*sources: dict) -> dict[str, Any]:
    """GET /facets of an index holding ``sources``."""
    by_source = {source["id"]: KINDS[source["id"]] for source in sources}
    kinds: dict[str, int] = {}
    for counts in by_source.values():
        for kind, n in counts.items():
            kinds[kind] = kinds.get(kind, 0) + n
    return {"fields": {"kind": [{"value": k, "count": n} for k, n in kinds.items()]}, "by_source": by_source}


class Api:
    """The Library's requests answered from what the index and the jobs hold now (``sources``, ``jobs``), which a
    test changes as the job goes on; ``asked`` counts each method and path, ``facets_sent`` the facets sent in full (an
    If-None-Match naming their ETag is answered 304)."""

    def __init__(self, sources: list[dict], jobs: list[dict]) -> None:
        self.sources, self.jobs, self.asked, self.facets_sent = sources, jobs, {}, 0
        self.posted = json_answer(202, job("queued", 0))
        """POST /jobs's answer: the upload taken, its job listed from then on as ``taken`` says."""
        self.taken = [{**job("running", 2), "submitted": sent(0)}]

    def __call__(self, method: str, path: str, **kwargs) -> httpx.Response:
        self.asked[method, path] = self.asked.get((method, path), 0) + 1
        if (method, path) == ("POST", "/search"):
            return json_answer(200, {"hits": [], "unknown_words": []})
        if method == "POST":
            if self.posted.status_code == 202:
                self.jobs = self.taken
            return self.posted
        if path == "/sources":
            return json_answer(200, self.sources)
        if path == "/facets":
            return self.facets(kwargs.get("headers") or {})
        if path == "/jobs":
            return json_answer(200, self.jobs)
        if path == "/health":
            return json_answer(200, {"limits": {}})
        return json_answer(200, next(job for job in self.jobs if path == f"/jobs/{job['id']}"))

    def facets(self, headers: dict[str, str]) -> httpx.Response:
        etag = f'"{"-".join(source["id"] for source in self.sources)}"'
        if headers.get("If-None-Match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        self.facets_sent += 1
        return httpx.Response(200, json=facets_of(*self.sources), headers={"ETag": etag})

    def finish(self) -> None:
        """The job ends: its source indexed, the job listed as done."""
        self.sources = [OLD, NEW]
        self.jobs = [{**job("done", 8), "submitted": sent(1)}]


@pytest.fixture
def api(monkeypatch, fresh_cache) -> Api:
    """The fake API, with ``OLD`` indexed and the upload's job at 7 of 8 pages; the facets cached afresh."""
    fake = Api([OLD], [{**job("running", 7), "submitted": sent(1)}])
    for module in (web_client, web_library):
        monkeypatch.setattr(module, "fetch", fake)
    monkeypatch.setattr(web_library, "upload_limit", lambda *limit: {})
    monkeypatch.setattr(web_library, "read_only_library", lambda: False)
    return fake


def bars(app: AppTest) -> list[str]:
    """The progress bars' texts, as read."""
    return [unescaped(bar.proto.text) for bar in app.get("progress")]


def row(app: AppTest, source: str) -> dict:
    return next(r for r in app.table[0].value.to_dict("records") if unescaped(r["source"]) == source)


# -- a job under way, found as the Library draws ---------------------------------------------------------------------
def test_a_page_reloaded_mid_job_shows_its_progress_then_done_and_the_new_sources_counts(api):
    """A reload is a new session: the job is found in GET /jobs, followed on its bar, and said done once it ends."""
    app = AppTest.from_function(library, default_timeout=30).run()
    assert bars(app) == [f"indexing {UPLOAD}: 7/8"]
    api.finish()
    followed_to_the_end(app.run())
    assert [success.value for success in app.success] == [present.plain(f"done: {UPLOAD} (8/8 indexed)")]
    assert bars(app) == []
    assert (row(app, UPLOAD)["pages"], row(app, UPLOAD)["figures"], row(app, UPLOAD)["entries"]) == (8, 8, 43)
    assert app.caption[1].value == "In total: 14 figures, 12 pages"
    app.run()  # the next click: the alert gone, the job listed under the last hour's uploads, once
    assert app.markdown[-1].value == f"- {present.plain(f'done: {UPLOAD} (8/8 indexed)')}"


def test_the_page_is_not_held_while_its_upload_is_indexed(api):
    """The run that sent the upload polled its job until it ended: a job of 30 minutes held the page that long, and a
    click on another tab ended the follow for good."""
    api.jobs = []
    app = AppTest.from_function(library, default_timeout=10).run()
    app.file_uploader[0].set_value((UPLOAD, b"%PDF-1.7", "application/pdf")).run()
    next(button for button in app.button if button.label == "Index it").click().run()  # within 10 s: not held
    assert bars(app) == [f"indexing {UPLOAD}: 2/8"]
    assert bars(app.run()) == [f"indexing {UPLOAD}: 2/8"], "another run, another tab's: still followed"
    assert api.asked["GET", f"/jobs/{JOB_ID}"] == 2
    api.finish()
    assert [success.value for success in followed_to_the_end(app).success] == [
        present.plain(f"done: {UPLOAD} (8/8 indexed)")
    ]


def test_jobs_that_ended_within_the_hour_are_listed_and_older_ones_not(api):
    api.jobs = [
        {**job("done", 8), "submitted": sent(5)},
        {**job("failed", 0, "corrupt.pdf", "9ce9bd75491d"), "error": "corrupt.pdf is damaged", "submitted": sent(20)},
        {**job("done", 8, "old.pdf", "e586d7af9e3c"), "submitted": sent(90)},
        {**job("done", 8, "unknown-time.pdf", "d4e30e239392"), "submitted": None},  # recorded by an earlier version
    ]
    app = AppTest.from_function(library, default_timeout=30).run()
    assert bars(app) == []
    assert app.caption[-1].value == "Uploads of the last hour"
    assert app.markdown[-1].value == "\n".join(
        f"- {present.plain(line)}" for line in [f"done: {UPLOAD} (8/8 indexed)", "failed: corrupt.pdf is damaged"]
    )


def whole_app() -> None:
    """The app's page, every tab drawn, as Streamlit runs it."""
    from pathatlas.ui.streamlit_app import main

    main()


def test_a_search_click_lists_no_jobs_and_another_users_upload_is_not_followed(api):
    """Each run (a search, any click) asked GET /jobs, and every open page followed every job under way, another
    user's included, and said its "done". The jobs are listed at most every ``JOBS_RELISTED_EVERY`` seconds, and
    only those under way at the first listing followed (test_library_jobs_listed)."""
    app = AppTest.from_function(whole_app, default_timeout=60).run()
    assert not app.exception, app.exception
    assert api.asked["GET", "/jobs"] == 1 and bars(app) == [f"indexing {UPLOAD}: 7/8"], "under way at the first draw"
    api.jobs = [*api.jobs, {**job("running", 3, "someone-else.pdf", "0e1f2a3b4c5d"), "submitted": sent(0)}]
    app.text_input(key="search-text").input("osteoclast")
    next(button for button in app.button if button.label == "Search").click().run()
    assert api.asked["POST", "/search"] == 1
    assert api.asked["GET", "/jobs"] == 1
    assert bars(app) == [f"indexing {UPLOAD}: 7/8"], "another user's upload, sent since, is not followed"


# -- the counts of a source indexed meanwhile -------------------------------------------------------------------------
def test_a_source_indexed_elsewhere_is_counted_though_the_facets_were_cached_before_it(api):
    """Another user's upload, or ``pathatlas index``: the facets cached for every session lacked the new source, and
    its row read 0 pages and 0 figures beside its 43 entries, the totals unchanged."""
    api.jobs = []
    app = AppTest.from_function(library, default_timeout=30).run()  # caches the facets of OLD alone
    api.sources = [OLD, NEW]
    app.run()
    assert (row(app, UPLOAD)["pages"], row(app, UPLOAD)["figures"], row(app, UPLOAD)["entries"]) == (8, 8, 43)
    assert app.caption[1].value == "In total: 14 figures, 12 pages"
    assert api.facets_sent == 2
    app.run()
    assert api.facets_sent == 2, "sent again only once the index changed"


# -- an upload the index already holds --------------------------------------------------------------------------------
MANIFEST = {f"/srv/uploads/ab/{UPLOAD}": NEW, "/srv/books/primer.pdf": OLD}


@pytest.mark.parametrize(
    ("refusal", "page_words"),
    [
        (
            same_file(MANIFEST, [f"/srv/uploads/ab/{UPLOAD}"], UPLOAD, TWIN_WORDS[".pdf"], IN_ITS_PLACE),
            "remove that source first with “Remove a source” below",
        ),
        (
            same_file(MANIFEST, list(MANIFEST), "lectures.zip", TWIN_WORDS[".zip"], IN_ITS_PLACE),
            "remove those sources first with “Remove a source” below",
        ),
    ],
    ids=["one-source", "several"],
)
def test_an_upload_already_indexed_points_to_remove_a_source_not_to_the_api(api, refusal, page_words):
    api.jobs, api.posted = [], json_answer(409, {"detail": refusal})
    app = AppTest.from_function(library, default_timeout=30).run()
    app.file_uploader[0].set_value((UPLOAD, b"%PDF-1.7", "application/pdf")).run()
    next(button for button in app.button if button.label == "Index it").click().run()
    [line] = [error.value for error in app.error]
    assert line == present.plain(refusal.replace(refusal[refusal.index("remove") :], page_words))
    assert "DELETE" not in line and "/sources" not in line
    assert "DELETE /sources/" in app.code[0].value, "the API's answer as sent, under Details"


def test_a_zips_member_left_out_as_indexed_is_noted_with_remove_a_source(api):
    left_out = "left out other.pdf: " + same_file(
        MANIFEST, ["/srv/books/primer.pdf"], "other.pdf", TWIN_WORDS[".pdf"], ZIP_COPY_INSTEAD
    )
    api.jobs, api.taken = [], [{**job("done", 8), "notes": [left_out], "submitted": sent(0)}]
    app = AppTest.from_function(library, default_timeout=30).run()
    app.file_uploader[0].set_value(("lectures.zip", b"PK", "application/zip")).run()
    next(button for button in app.button if button.label == "Index it").click().run()
    [note] = [info.value for info in followed_to_the_end(app).info]
    assert note.endswith(present.plain("remove that source with “Remove a source” below and send the zip again"))
    assert "DELETE" not in note
