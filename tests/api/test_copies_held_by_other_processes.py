"""POST /jobs refuses (409) the bytes of an upload that another server process sharing the uploads folder is still
indexing, naming it as "another upload": that process's job is not one this process can name. Hashing encoder."""

from __future__ import annotations

import shutil

from pathatlas.indexer.sources.fingerprints import content_hash
from pathatlas.ui.api.upload_folder import claim_upload
from pathatlas.ui.api.uploads import mark_content
from pathatlas.ui.bench_crash import make_pdf
from tests.servers import job_ended
from tests.uploads import book_service, upload


def test_a_copy_of_an_upload_another_process_indexes_is_refused_until_its_claim_is_released(tmp_path):
    atlas = make_pdf(tmp_path / "atlas.pdf", 2, "haversian")
    with book_service(tmp_path, "osteoid") as client:
        folder = client.app.state.jobs.uploads.path / "0123456789ab"
        claim = claim_upload(folder, client.app.state.engine.index.path)  # as the other process claims its upload
        shutil.copy(atlas, folder / atlas.name)
        mark_content(folder, content_hash(atlas))
        try:
            refused = upload(client, "atlas copy.pdf", atlas.read_bytes())
        finally:
            claim.release()  # its job ended without indexing it
        taken = upload(client, "atlas copy.pdf", atlas.read_bytes())
        said = "atlas copy.pdf is the same file as another upload, not yet indexed: its pages would appear twice"
        assert (refused.status_code, refused.json()) == (409, {"detail": said})
        assert taken.status_code == 202, taken.text
        assert job_ended(client, taken.json()["id"])["status"] == "done"
