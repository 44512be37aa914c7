"""Index lifecycle: incremental re-indexing, removal, mismatched encoders, bad inputs that lose nothing."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from pathatlas.errors import EncoderMismatchError, IndexMissingError, PathAtlasError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import StoredVectors


@pytest.fixture
def case_folder(demo_corpus, tmp_path):
    folder = tmp_path / "cases"
    shutil.copytree(demo_corpus / "cases", folder)
    return folder


def ids_of(index, source):
    return {rid for rid, p in index.store.scan({"source": str(source)})}


def test_incremental_indexing_skips_replaces_and_removes(settings, case_folder, demo_corpus):
    index = Index.open(settings.index_dir, settings, create=True)
    pdf = demo_corpus / "primer" / "demo-primer.pdf"
    indexer = Indexer(index, show_progress=False)
    first = indexer.add([case_folder, pdf])
    assert [s.status for s in first.sources] == ["indexed", "indexed"]
    assert {"read", "text", "images", "keypoints", "store", "thumbnails", "commit"} == set(indexer.stage_seconds)
    before = ids_of(index, case_folder)
    assert len(before) == 16

    rerun = Indexer(index, show_progress=False)
    again = rerun.add([case_folder, pdf])
    assert [s.status for s in again.sources] == ["unchanged", "unchanged"]
    assert not rerun.stage_seconds, "unchanged sources are neither read nor encoded"

    rows = (case_folder / "cases.jsonl").read_text().splitlines()
    (case_folder / "cases.jsonl").write_text("\n".join(rows[:-2]) + "\n")  # drop the last case
    changed = Indexer(index, show_progress=False).add([case_folder])
    assert changed.sources[0].status == "indexed"
    after = ids_of(index, case_folder)
    assert len(after) == 14 and not (after & before), "a changed source gets new ids, old ones go"
    media = {f.name.split(".")[0] for f in index.media_dir.iterdir()}
    assert after <= media and not (before & media), "thumbnails and keypoints of the old version are deleted"

    reopened = Index.open(settings.index_dir, settings)
    assert ids_of(reopened, case_folder) == after
    assert reopened.remove_source("demo-primer.pdf") > 0
    assert str(pdf) not in Index.open(settings.index_dir, settings).manifest
    assert ids_of(Index.open(settings.index_dir, settings), pdf) == set()
    assert {f.name.split(".")[0] for f in index.media_dir.iterdir()} == after, "only the cases' media are left"


def test_a_changed_reading_setting_re_reads_the_pdf_and_replaces_its_records(settings, demo_corpus):
    pdf = demo_corpus / "primer" / "demo-primer.pdf"
    index = Index.open(settings.index_dir, settings, create=True)
    Indexer(index, show_progress=False).add([pdf])
    before = ids_of(index, pdf)
    passages = {rid for rid, p in index.store.scan({"source": str(pdf), "kind": "passage"})}

    smaller = settings.model_copy(update={"passage_min_words": 5, "passage_max_words": 20})
    index = Index.open(settings.index_dir, smaller)
    report = Indexer(index, show_progress=False).add([pdf])
    assert report.sources[0].status == "indexed", "new passage sizes re-read the PDF without --force"
    after = ids_of(index, pdf)
    assert not (after & before), "the old version's records go"
    assert len({rid for rid, p in index.store.scan({"source": str(pdf), "kind": "passage"})}) > len(passages)
    assert Indexer(index, show_progress=False).add([pdf]).sources[0].status == "unchanged"

    ocr = settings.model_copy(update={"figure_ocr": True})
    assert PdfSource(pdf, ocr).fingerprint() != PdfSource(pdf, settings).fingerprint(), "OCR'd figures differ"
    assert PdfSource(pdf, settings).reading() == {}, "an index made with the defaults keeps its fingerprints"


def test_bad_files_fail_alone_and_lose_nothing(settings, case_folder, tmp_path):
    index = Index.open(settings.index_dir, settings, create=True)
    Indexer(index, show_progress=False).add([case_folder])
    kept = ids_of(index, case_folder)

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (bad / "photo.png").write_text("text named .png")  # not a PDF nor a case folder: ignored in folders
    report = Indexer(index, show_progress=False).add([bad, case_folder])
    assert [s.status for s in report.sources] == ["failed", "unchanged"]
    assert "broken.pdf" in report.failed[0].problems[0]

    reopened = Index.open(settings.index_dir, settings)
    assert ids_of(reopened, case_folder) == kept
    assert str(bad / "broken.pdf") not in reopened.manifest


def test_a_changed_source_that_breaks_keeps_its_previous_version(settings, tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    Image.new("RGB", (64, 64), (10, 20, 30)).save(folder / "a.jpg")
    (folder / "cases.jsonl").write_text(json.dumps({"image": "a.jpg", "diagnosis": "x"}) + "\n")
    index = Index.open(settings.index_dir, settings, create=True)
    Indexer(index, show_progress=False).add([folder])
    kept = ids_of(index, folder)
    (folder / "cases.jsonl").write_text("{not json\n")
    report = Indexer(index, show_progress=False).add([folder])
    assert report.sources[0].status == "failed" and "not JSON" in report.sources[0].problems[0]
    assert ids_of(Index.open(settings.index_dir, settings), folder) == kept


def test_missing_damaged_and_mismatched_indexes(settings, case_folder, tmp_path):
    with pytest.raises(IndexMissingError, match="no PathAtlas index"):
        Index.open(tmp_path / "nowhere", settings)
    index = Index.open(settings.index_dir, settings, create=True)
    Indexer(index, show_progress=False).add([case_folder])
    other = settings.model_copy(update={"encoder": "py:tests.retrieval.test_encoders.HashEncoder"})
    with pytest.raises(EncoderMismatchError, match="built with encoder 'default'.*HashEncoder"):
        Index.open(settings.index_dir, other)
    (settings.index_dir / "pathatlas.json").write_text("{half a file")
    with pytest.raises(IndexMissingError, match="damaged"):
        Index.open(settings.index_dir, settings)


def test_an_index_refuses_an_encoder_whose_models_changed(settings):
    index = Index.open(settings.index_dir, settings, create=True)
    assert set(index.meta.revisions) == set(index.meta.dims), "every space records the model that filled it"
    meta_path = settings.index_dir / "pathatlas.json"
    meta = json.loads(meta_path.read_text())
    assert meta["revisions"] == index.encoder.revisions()
    meta["revisions"]["joint"] = "pathatlas-joint-v0 000000000000"  # as if built with other joint heads
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(EncoderMismatchError, match=r"other models .*joint: 'pathatlas-joint-v0 0+' now") as error:
        Index.open(settings.index_dir, settings).encoder  # noqa: B018 - the property builds the encoder
    assert "\n" not in str(error.value)
    del meta["revisions"]  # an index made before revisions were recorded opens as before
    meta_path.write_text(json.dumps(meta))
    assert Index.open(settings.index_dir, settings).encoder.name == "default"


def test_remove_unknown_source_names_the_choices(settings, case_folder):
    index = Index.open(settings.index_dir, settings, create=True)
    Indexer(index, show_progress=False).add([case_folder])
    with pytest.raises(PathAtlasError, match="no source 'nope.pdf'"):
        index.remove_source("nope.pdf")


def test_qdrant_index_end_to_end(settings, case_folder):
    index = Index.open(settings.index_dir, settings, create=True, store="qdrant")
    Indexer(index, show_progress=False).add([case_folder])
    index.close()
    reopened = Index.open(settings.index_dir, settings)
    assert reopened.meta.store == "qdrant" and reopened.store.count() == 16
    from pathatlas.retrieval.search import Query, Searcher

    hits = Searcher(reopened).search(Query(text="tuberculosis granulomas", k=3))
    assert hits[0].payload.diagnosis in {"tuberculosis", "sarcoidosis"}

    scans, scan = [], reopened.raw_store.scan
    reopened.raw_store.scan = lambda filters=None: (scans.append(filters), scan(filters))[1]
    assert reopened.stats()["kinds"] == {"case": 16} and scans == []  # counted from the payload index
    stray = {"kind": "page", "source": "elsewhere.pdf", "fingerprint": "a run in progress", "text": "x"}
    reopened.raw_store.upsert([StoredVectors("stray", stray, {"text": np.ones(384, np.float32) / 384**0.5})])
    assert reopened.stats()["kinds"] == {"case": 16} and scans  # a version not committed is not counted
    reopened.close()


def test_prefetched_keeps_order_raises_where_the_item_failed_and_stops_when_left():
    from pathatlas.indexer.pipeline import prefetched

    assert list(prefetched(iter(range(50)), depth=2)) == list(range(50))

    def failing():
        yield 1
        yield 2
        raise OSError("page 3 is unreadable")

    seen = []
    with pytest.raises(OSError, match="page 3"):
        for item in prefetched(failing()):
            seen.append(item)
    assert seen == [1, 2], "items made before the error still arrive, in order"

    made = []

    def endless():
        n = 0
        while True:
            made.append(n)
            yield n
            n += 1

    stream = prefetched(endless(), depth=2)
    assert next(stream) == 0
    stream.close()  # the consumer leaves early: the thread stops instead of reading on
    count = len(made)
    time.sleep(0.3)
    assert len(made) == count <= 4
