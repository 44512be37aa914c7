"""A lecturer's case folder exported from Excel (byte order mark, ";", a Stain column): a search by stain finds the
stained image, and saving labels.csv again unchanged leaves the folder's images served, ``info`` saying "ok" and
``index`` saying "unchanged". Hashing encoder throughout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.records import Case
from pathatlas.indexer.sources import fingerprints
from pathatlas.indexer.sources.fingerprints import on_disk
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.routes import media
from tests.helpers import calls_to, hashing_settings, run_cli

LABELS = (
    "\ufeffImage;Case;Diagnosis;Organ;Stain;Description\r\n"
    "IMG_2041.jpg;C-01;Cystic fibrosis with sinusoidal obstruction;Liver;HE;Explant liver, cholestasis\r\n"
    "IMG_2042.jpg;C-01;cystic fibrosis with sinusoidal obstruction;liver;PAS;\r\n"
    "IMG_2051.jpg;C-06;Secretory meningioma;Meninges;HE;pseudopsammoma bodies\r\n"
    "IMG_2052.jpg;C-06;Secretory meningioma;meninges;CEA;\r\n"
    "IMG_2061.jpg;C-08;Ganglioneuroma;Adrenal gland;HE;mature ganglion cells in schwannian stroma\r\n"
    ";;;;;\r\n"
)


def course(path: Path) -> Path:
    """Her folder: five photos and the labels.csv Excel saved ("CSV UTF-8", European separators)."""
    path.mkdir(parents=True)
    names = [line.split(";")[0] for line in LABELS.splitlines()[1:] if line.strip(";")]
    for seed, name in enumerate(names):
        pixels = np.random.default_rng(seed).integers(0, 255, (48, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path / name)
    (path / "labels.csv").write_bytes(LABELS.encode("utf-8"))
    return path


@pytest.fixture
def indexed(tmp_path):
    settings = hashing_settings(tmp_path)
    folder = course(tmp_path / "course" / "Fälle Winter")
    with Index.open(settings.index_dir, settings, create=True) as index:
        (report,) = Indexer(index, show_progress=False).add(folder).sources
        assert report.status == "indexed", report
    return settings, folder


def test_a_case_images_labels_follow_its_diagnosis_in_what_bm25_and_the_encoder_read():
    case = Case("/srv/c", "f", "C-01", [("he.jpg", Image.new("RGB", (8, 8))), ("pas.jpg", Image.new("RGB", (8, 8)))])
    case.diagnosis, case.organ, case.labels = "Cystic fibrosis", "Liver", {"Stain": "HE"}
    case.image_labels = {"he.jpg": {"Stain": "HE"}, "pas.jpg": {"Stain": "PAS", "Block": "A3"}}
    he, pas = case.entries()
    assert (he.text, he.payload.text) == ("Cystic fibrosis. Liver. Stain: HE",) * 2
    assert (pas.text, pas.payload.text) == ("Cystic fibrosis. Liver. Stain: PAS. Block: A3",) * 2
    assert pas.payload.labels == {"Stain": "PAS", "Block": "A3"}
    assert case.text == "Cystic fibrosis. Liver", "the case's own words stay as they were"


@pytest.mark.parametrize(("query", "image"), [("PAS stain", "IMG_2042.jpg"), ("CEA", "IMG_2052.jpg")])
def test_a_search_by_stain_finds_the_image_in_that_stain(indexed, query, image):
    """Her Stain column was kept as labels but never read: "PAS stain" and "CEA" missed the cases stained so."""
    settings, _ = indexed
    with Index.open(settings.index_dir, settings) as index:
        best = Searcher(index).search(Query(text=query, k=3))[0]
    assert best.payload.image == image and "bm25" in best.matched_by, (best.payload.image, best.matched_by)
    assert best.payload.body.startswith(best.payload.diagnosis), "a quote of the case still opens with its diagnosis"


def resaved(path: Path, text: bytes) -> None:
    """Save ``path`` again with ``text``, its modification time surely moved (coarse file system clocks)."""
    before = path.stat()
    path.write_bytes(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 2_000_000_000))


def states(settings) -> dict[str, str]:
    result = run_cli("info", "--json", "--index", settings.index_dir, home=settings.home)
    return {Path(key).name: entry["on_disk"] for key, entry in json.loads(result.stdout)["sources"].items()}


def test_labels_csv_saved_again_unchanged_is_served_ok_and_unchanged_everywhere(indexed, monkeypatch):
    """Saving labels.csv as it was (a new modification time) made every image of the folder answer 410 and ``info``
    call the folder changed, while ``index`` called it unchanged: the stat check now asks what the files hold, once
    per state of them."""
    monkeypatch.setattr(media, "SOURCE_CHECK_SECONDS", 0.0)  # each request looks at the disk again
    settings, folder = indexed
    labels = folder / "labels.csv"
    with TestClient(create_app(settings)) as client:
        index = client.app.state.engine.index
        images = [rid for rid, _ in index.store.scan({"kind": "case"})]
        assert all(client.get(f"/media/cases/{rid}").status_code == 200 for rid in images)

        resaved(labels, labels.read_bytes())
        (folder / "notes.txt").write_text("for next week")  # a file the folder holds but does not read
        hashed = calls_to(monkeypatch, "hash_into", fingerprints)
        assert [client.get(f"/media/cases/{rid}").status_code for rid in images] == [200] * len(images)
        reads = [path.name for _, path in hashed].count("labels.csv")
        assert reads == 1, "one hash for the files' new state, not one per image served"
        assert states(settings) == {"Fälle Winter": "ok"}
        assert on_disk(str(folder), index.manifest[str(folder)], settings) == "ok"
        rerun = run_cli("index", folder, "--json", "--index", settings.index_dir, home=settings.home)
        assert [s["status"] for s in json.loads(rerun.stdout)] == ["unchanged"]

        resaved(labels, labels.read_bytes().replace(b"Ganglioneuroma", b"Neuroblastoma"))
        gone = client.get(f"/media/cases/{images[0]}")
        assert (gone.status_code, gone.json()["detail"]) == (410, media.CHANGED)
        assert states(settings) == {"Fälle Winter": "changed"}
