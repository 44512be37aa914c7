"""A lecturer's case folder exported from Excel (byte order mark, ";", a Stain column): a search by stain finds the
stained image. Hashing encoder throughout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.records import Case
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.search import Query, Searcher
from tests.helpers import hashing_settings

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
