"""With ``store=qdrant`` a job commits through the served index itself (its shard opens once): GET /facets, kept per
opened index, kept the counts from before the job while its ETag named the new generation, so a client holding them
got 304 for stale counts until the next change. Hashing encoder, tiny books."""

from __future__ import annotations

from pathatlas.ui.bench_crash import make_pdf
from tests.servers import job_ended
from tests.uploads import book_service, upload


def test_facets_count_a_job_committed_through_the_served_index(tmp_path):
    with book_service(tmp_path, "osteoid", store="qdrant") as client:
        before = client.get("/facets")
        job = upload(client, "atlas.pdf", make_pdf(tmp_path / "atlas.pdf", 1, "haversian").read_bytes()).json()
        assert job_ended(client, job["id"])["status"] == "done"
        after = client.get("/facets", headers={"If-None-Match": before.headers["ETag"]})
        sources = {source["id"] for source in client.get("/sources").json()}
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert set(after.json()["by_source"]) == sources and len(sources) == 2
