"""After an upgrade that bumps the case reader's ``records_version``, a source copied, touched or restored from a
backup since it was indexed holds what was indexed: ``on_disk`` and ``info`` call it "ok" (``info`` names it read by an
older reader) and the server serves its images; a file whose content changed is still "changed". Hashing encoder
throughout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.indexer.sources.fingerprints import on_disk
from pathatlas.retrieval.index import Index
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.routes import media
from tests.helpers import hashing_settings, run_cli, two_cases


def saved(path: Path, text: bytes) -> None:
    """Write ``path`` with ``text``, its modification time surely moved (coarse file system clocks)."""
    before = path.stat()
    path.write_bytes(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 2_000_000_000))


@pytest.fixture
def upgraded(tmp_path, monkeypatch):
    """A case folder indexed, then a PathAtlas whose reader is one version on."""
    monkeypatch.setattr(media, "SOURCE_CHECK_SECONDS", 0.0)  # each request looks at the disk again
    settings = hashing_settings(tmp_path)
    folder = two_cases(tmp_path / "cases")
    with Index.open(settings.index_dir, settings, create=True) as index:
        (report,) = Indexer(index, show_progress=False).add(folder).sources
        assert report.status == "indexed", report
        entry = index.manifest[str(folder)]
    monkeypatch.setattr(CaseFolderSource, "records_version", CaseFolderSource.records_version + 1)
    return settings, folder, entry


def test_a_touched_source_an_older_reader_indexed_is_ok_served_and_read_again_by_index(upgraded):
    settings, folder, entry = upgraded
    labels = folder / "labels.csv"
    saved(labels, labels.read_bytes())  # restored from a backup: same bytes, new time
    assert on_disk(str(folder), entry, settings) == "ok"

    result = run_cli("info", "--json", "--index", settings.index_dir, home=settings.home)
    (shown,) = json.loads(result.stdout)["sources"].values()
    assert (shown["on_disk"], shown["older_reader"]) == ("ok", True)
    table = run_cli("info", "--index", settings.index_dir, home=settings.home).stdout
    assert "changed on disk" not in table and "read by an older PathAtlas reader" in table
    with TestClient(create_app(settings)) as client:
        images = [rid for rid, _ in client.app.state.engine.index.store.scan({"kind": "case"})]
        assert [client.get(f"/media/cases/{rid}").status_code for rid in images] == [200, 200]

    with Index.open(settings.index_dir, settings) as index:  # the fingerprint asked as indexed stays there
        (report,) = Indexer(index, show_progress=False).add(folder).sources
    assert report.status == "indexed", "the new reader reads it again"


def test_content_changed_after_an_upgrade_is_changed_and_not_served(upgraded):
    settings, folder, entry = upgraded
    labels = folder / "labels.csv"
    saved(labels, labels.read_bytes().replace(b"granuloma", b"sarcoidosis"))
    assert on_disk(str(folder), entry, settings) == "changed"
    with TestClient(create_app(settings)) as client:
        (image, *_) = [rid for rid, _ in client.app.state.engine.index.store.scan({"kind": "case"})]
        gone = client.get(f"/media/cases/{image}")
    assert (gone.status_code, gone.json()["detail"]) == (410, media.CHANGED)


def test_a_file_the_folder_does_not_read_added_is_ok_after_an_upgrade(upgraded):
    """Its content differs from that recorded: the fingerprint, as the older reader made it, decides."""
    settings, folder, entry = upgraded
    (folder / "notes.txt").write_text("for next week")
    saved(folder / "c0.png", (folder / "c0.png").read_bytes())
    assert on_disk(str(folder), entry, settings) == "ok"
    saved(folder / "c0.png", (folder / "c1.png").read_bytes())
    assert on_disk(str(folder), entry, settings) == "changed"


def test_a_touched_source_is_ok_to_a_server_reading_sources_otherwise(upgraded):
    """What the files hold decides, not a fingerprint hashing the server's settings too (keypoints of case images
    on there, off when indexed): the images it serves are the files indexed."""
    settings, folder, entry = upgraded
    labels = folder / "labels.csv"
    saved(labels, labels.read_bytes())
    assert on_disk(str(folder), entry, settings.model_copy(update={"case_keypoints": True})) == "ok"


def test_an_entry_without_its_content_recorded_is_judged_by_its_readers_fingerprint(upgraded):
    """Indexes written before ``content`` was recorded (every 0.2.0 index) upgrade alike."""
    settings, folder, entry = upgraded
    older = {key: value for key, value in entry.items() if key != "content"}
    labels = folder / "labels.csv"
    saved(labels, labels.read_bytes())
    assert on_disk(str(folder), older, settings) == "ok"
    saved(labels, labels.read_bytes().replace(b"fibrosis", b"cirrhosis"))
    assert on_disk(str(folder), older, settings) == "changed"
