"""An upgrade after a reader change, timed by a command (``bench index --upgrade``), and page thumbnails reused on it:
a page's record keeps what its thumbnail was made of (``Payload.thumbnail_hash``, ``pipeline.thumbnail_key``: its
rendered pixels, kind and size), so a page a newer reader renders alike takes a copy, and an edited page gets a new
one."""

from __future__ import annotations

import json
from contextlib import nullcontext

import pytest
from PIL import Image

from pathatlas.indexer import pipeline
from pathatlas.indexer.bench import bench_index, newer_reader
from pathatlas.retrieval.index import Index
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import run_cli
from tests.indexer.test_figure_reuse import figured_pdf, thumbnailed
from tests.indexer.test_text_reuse import PAGES, assert_as_from_scratch, build, small_passages, upgrade, write_pdf
from tests.indexer.test_upgrade_render_reuse import renders


@pytest.fixture
def settings(tmp_path):
    """The counting encoder; the words printed in figures not read (no tesseract run)."""
    return small_passages(tmp_path, figure_ocr=False)


def page_thumbnails(index: Index) -> dict[int, bytes]:
    """Page number to the bytes of its page's thumbnail, of the committed index."""
    return {
        payload["page"]: index.thumbnail_path(rid).read_bytes() for rid, payload in index.store.scan({"kind": "page"})
    }


def test_the_upgrade_bench_times_an_upgrade_that_reuses_every_vector_and_thumbnail(settings, tmp_path):
    pdf = figured_pdf(tmp_path / "book.pdf", [1, 2])

    result = bench_index(pdf, settings, workdir=tmp_path, upgrade=True)

    done = result["upgrade"]
    assert set(done) == {"seconds", "cpu_seconds", "stage_seconds", "texts", "images", "thumbnails"}
    assert done["seconds"] > 0 and "read" in done["stage_seconds"]
    # two text pages, their four passages (``small_passages``) and their two figures' captions; the plate has no text
    assert done["texts"] == {"reused": 8, "encoded": 0}
    assert done["images"] == {"reused": 4, "encoded": 0}  # 3 figures and the plate
    assert done["thumbnails"] == {"reused": 6, "made": 0}
    assert "upgrade" not in bench_index(pdf, settings, workdir=tmp_path)  # only when asked: it costs a run more


def test_the_upgrade_bench_leaves_a_kept_index_as_the_first_run_made_it(settings, tmp_path):
    pdf = figured_pdf(tmp_path / "book.pdf", [1, 2])

    bench_index(pdf, settings, workdir=tmp_path, keep=tmp_path / "kept", upgrade=True)

    kept = Index.open(tmp_path / "kept", settings.model_copy(update={"index": tmp_path / "kept"}))
    assert_as_from_scratch(kept, settings, pdf, tmp_path)  # not the upgraded copy, whose ids a newer reader gave


def test_an_upgrade_without_a_reader_change_is_refused_rather_than_timed_as_one(settings, tmp_path, monkeypatch):
    """Were the sources read as unchanged, the bench would time a skip and call it an upgrade."""
    monkeypatch.setattr("pathatlas.indexer.bench.newer_reader", nullcontext)
    with pytest.raises(RuntimeError, match="read no source again"):
        bench_index(write_pdf(tmp_path / "book.pdf", PAGES), settings, workdir=tmp_path, upgrade=True)


def test_bench_index_upgrade_prints_its_tally_and_writes_json_alone(hashing_cli):
    pdf = make_pdf(hashing_cli / "lib" / "book.pdf", 3, "v1")

    result = run_cli("bench", "index", "--pdf", pdf, "--upgrade", "--json", "-")

    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)["upgrade"]
    assert done["texts"]["encoded"] == 0 and done["thumbnails"] == {"reused": 3, "made": 0}
    tables = " ".join(result.stderr.split())  # titles wrap over narrow tables
    assert "upgrade as after a reader change" in tables and "upgrade, wall seconds per stage" in tables


def test_a_newer_reader_s_upgrade_ends_as_a_fresh_index_of_its_reader(settings, tmp_path):
    """Record for record (ids, payloads, every vector) and thumbnail for thumbnail, bytes alike."""
    pdf = figured_pdf(tmp_path / "book.pdf", [1, 2])
    build(settings, pdf)

    with newer_reader():
        index, texts, images, statuses = upgrade(settings)
        assert (statuses, texts, images) == (["indexed"], [], 0)
        assert_as_from_scratch(index, settings, pdf, tmp_path)
    scratch = Index.open(tmp_path / "scratch", settings.model_copy(update={"index": tmp_path / "scratch"}))
    for record_id, _ in index.store.scan():
        if index.thumbnail_path(record_id).exists() or scratch.thumbnail_path(record_id).exists():
            assert index.thumbnail_path(record_id).read_bytes() == scratch.thumbnail_path(record_id).read_bytes()


def test_page_thumbnails_are_copied_on_upgrade_and_an_edited_page_s_made_anew(settings, tmp_path, monkeypatch):
    pdf = write_pdf(tmp_path / "book.pdf", PAGES)
    index, _ = build(settings, pdf)
    before = page_thumbnails(index)
    index.close()

    edited = [PAGES[0], [PAGES[1][0], "surfactant keeps the small alveoli from collapsing on breathing out"], PAGES[2]]
    write_pdf(pdf, edited)
    made = thumbnailed(monkeypatch)
    with newer_reader():
        index, _, _, statuses = upgrade(settings)

    assert statuses == ["indexed"]
    assert [entry.payload.page for entry, _ in made] == [2]
    after = page_thumbnails(index)
    assert after[1] == before[1] and after[3] == before[3] and after[2] != before[2]


def test_a_thumbnail_asked_at_another_size_is_made_anew(settings, tmp_path, monkeypatch):
    pdf = write_pdf(tmp_path / "book.pdf", PAGES)
    build(settings, pdf)

    made, rendered = thumbnailed(monkeypatch), renders(monkeypatch)
    with newer_reader():
        index, _, _, _ = upgrade(settings.model_copy(update={"thumbnail_px": 64}))

    assert len(made) == 3 and len(rendered) == 3, "no earlier render is kept at another size"
    assert {max(Image.open(index.thumbnail_path(record_id)).size) for record_id in page_ids(index)} == {64}


def page_ids(index: Index) -> list[str]:
    """The ids of the committed index's pages."""
    return [record_id for record_id, _ in index.store.scan({"kind": "page"})]


def test_a_page_thumbnail_that_keeps_no_key_is_made_anew_once(settings, tmp_path, monkeypatch):
    """An index whose pages were written before their thumbnails' key was kept: the first upgrade makes them again,
    with it."""
    with monkeypatch.context() as before:
        before.setattr(pipeline, "thumbnail_key", lambda entry, longest_side: None)  # as the last release wrote pages
        index, _ = build(settings, write_pdf(tmp_path / "book.pdf", PAGES))
    assert not any("thumbnail_hash" in payload for _, payload in index.store.scan())
    index.close()

    made = thumbnailed(monkeypatch)
    with newer_reader():
        assert upgrade(settings)[3] == ["indexed"]
    assert len(made) == 3

    made.clear()
    assert upgrade(settings)[3] == ["indexed"]  # this reader's fingerprints again: each source read once more
    assert made == []


def test_a_hit_shows_no_thumbnail_key(settings, tmp_path):
    """``Payload.thumbnail_hash`` is the indexer's key, no field a client reads (as ``text_hash``)."""
    from pathatlas.retrieval.records import Citation, Hit, Payload

    index, _ = build(settings, write_pdf(tmp_path / "book.pdf", PAGES))
    (page_id, stored), *_ = index.store.scan({"kind": "page"})
    payload = Payload.from_payload(stored)
    assert payload.thumbnail_hash
    hit = Hit(page_id, 1.0, "page", "", Citation(payload.source, page=payload.page), payload=payload)
    assert "thumbnail_hash" not in hit.to_dict()["payload"] and hit.to_dict()["payload"]["page"] == payload.page
