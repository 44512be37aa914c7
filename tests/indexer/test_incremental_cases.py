"""Re-indexing a changed case folder encodes only its new or changed images: the others take their earlier records'
image vectors, keypoints and thumbnails, and end as a build from scratch makes them."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathatlas.indexer import pipeline
from pathatlas.indexer.pipeline import Cancelled, Indexer
from pathatlas.retrieval.encoders.base import Embeddings, Encoder, l2_normalise
from pathatlas.retrieval.index import META_FILE, Index
from pathatlas.retrieval.local import Keypoints
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.settings import Settings
from tests.helpers import calls_to, hashing_settings

ENCODER = f"py:{__name__}.PixelEncoder"


class PixelEncoder(Encoder):
    """Texts as hashed words, images as their pixels' mean colours by quadrant: deterministic and instant; keeps the
    images it encoded (its one instance is shared, as the registry keeps one per name)."""

    name = ENCODER
    dims = {"text": 16, "visual": 12, "joint": 12}
    text_spaces = ("text", "joint")
    image_spaces = ("visual", "joint")

    def __init__(self, settings: Settings):
        self.encoded: list[Image.Image] = []

    def revisions(self) -> dict[str, str]:
        return {"visual": "quadrant means 1"}

    def encode_text(self, texts) -> Embeddings:
        rows = np.full((len(texts), 16), 1e-3, dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            for word in text.lower().split():
                row[hashlib.blake2b(word.encode(), digest_size=1).digest()[0] % 16] += 1.0
        return {"text": l2_normalise(rows), "joint": l2_normalise(rows[:, :12])}

    def encode_image(self, images) -> Embeddings:
        self.encoded += images
        rows = [np.asarray(image.convert("RGB").resize((2, 2), Image.BOX), np.float32).ravel() for image in images]
        vectors = l2_normalise(np.array(rows).reshape(len(images), 12) + 1.0)
        return {"visual": vectors, "joint": vectors}


def slide(seed: int) -> Image.Image:
    """A textured image of its own (SIFT finds keypoints on it)."""
    pixels = np.random.default_rng(seed).integers(0, 255, (96, 96, 3), dtype=np.uint8)
    return Image.fromarray(pixels).resize((192, 192), Image.NEAREST)


def write_labels(folder: Path, diagnoses: dict[str, str]) -> None:
    """``labels.csv`` naming each image (its file name) with its diagnosis, each image a case of its own."""
    with (folder / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "diagnosis"])
        writer.writerows(diagnoses.items())


def case_folder(folder: Path, count: int) -> dict[str, str]:
    """``count`` images and their labels; returns image name to diagnosis."""
    folder.mkdir(parents=True)
    diagnoses = {f"img{i}.png": f"diagnosis {i}" for i in range(count)}
    for i, name in enumerate(diagnoses):
        slide(i).save(folder / name)
    write_labels(folder, diagnoses)
    return diagnoses


@pytest.fixture(params=["faiss", "qdrant"])
def settings(tmp_path, request) -> Settings:
    """Each store: FAISS gives its vectors back from its snapshot, Qdrant from records its pointer hides."""
    return hashing_settings(tmp_path, encoder=ENCODER, case_keypoints=True, store=request.param)


def run(settings: Settings, folder: Path, force: bool = False) -> tuple[Index, int, int]:
    """``pathatlas index FOLDER`` in process: the index, and how many images were encoded and given keypoints."""
    index = Index.open(settings.index_dir, settings, create=True)
    encoded = len(index.encoder.encoded)
    with pytest.MonkeyPatch.context() as patch:
        keypointed = calls_to(patch, "keypoints", pipeline)
        report = Indexer(index, show_progress=False).add([folder], force=force)
    assert [s.status for s in report.sources] == ["indexed"], report.sources
    return index, len(index.encoder.encoded) - encoded, sum(len(images) for (images,) in keypointed)


def by_image(index: Index) -> dict[str, tuple[str, dict]]:
    """Image name to its record's id and payload."""
    return {payload["image"]: (record_id, payload) for record_id, payload in index.store.scan({"kind": "case"})}


def test_a_label_fix_encodes_no_image_and_is_found(settings, tmp_path):
    folder = tmp_path / "cases"
    diagnoses = case_folder(folder, 4)
    _, encoded, keypointed = run(settings, folder)
    assert (encoded, keypointed) == (4, 4)

    write_labels(folder, {**diagnoses, "img2.png": "koilocytosis"})
    index, encoded, keypointed = run(settings, folder)

    assert (encoded, keypointed) == (0, 0)
    (hit,) = Searcher(index).search(Query(text="koilocytosis", k=1))
    assert (hit.payload.image, hit.payload.diagnosis) == ("img2.png", "koilocytosis")
    records = by_image(index)
    assert len(records) == 4 and all(index.thumbnail_path(rid).is_file() for rid, _ in records.values())
    assert all(index.keypoints_path(rid).is_file() for rid, _ in records.values())
    assert len(list(index.media_dir.iterdir())) == 8  # the replaced records' files are gone


def test_an_added_image_is_the_only_one_encoded(settings, tmp_path):
    folder = tmp_path / "cases"
    diagnoses = case_folder(folder, 3)
    run(settings, folder)

    slide(10).save(folder / "new.png")
    write_labels(folder, {**diagnoses, "new.png": "new diagnosis"})
    index, encoded, keypointed = run(settings, folder)

    assert (encoded, keypointed) == (1, 1)
    assert set(by_image(index)) == {*diagnoses, "new.png"}


def test_an_image_saved_with_other_bytes_is_encoded_again_alone(settings, tmp_path):
    folder = tmp_path / "cases"
    case_folder(folder, 3)
    index, _, _ = run(settings, folder)
    before = by_image(index)["img1.png"][1]

    slide(20).save(folder / "img1.png")
    index, encoded, keypointed = run(settings, folder)

    assert (encoded, keypointed) == (1, 1)
    assert by_image(index)["img1.png"][1]["image_hash"] != before["image_hash"]


def test_reused_vectors_and_media_equal_a_build_from_scratch(settings, tmp_path):
    folder = tmp_path / "cases"
    diagnoses = case_folder(folder, 4)
    run(settings, folder)
    slide(30).save(folder / "img3.png")
    slide(31).save(folder / "new.png")
    write_labels(folder, {**diagnoses, "img0.png": "fixed diagnosis", "new.png": "added"})
    incremental, encoded, _ = run(settings, folder)
    assert encoded == 2

    scratch, _, _ = run(settings.model_copy(update={"index": tmp_path / "scratch"}), folder)

    ours, theirs = by_image(incremental), by_image(scratch)
    assert ours.keys() == theirs.keys() == {*diagnoses, "new.png"}
    for image, (record_id, payload) in ours.items():
        other_id, other_payload = theirs[image]
        assert (record_id, payload) == (other_id, other_payload)  # ids derive from the folder's content alone
        mine, fresh = incremental.raw_store.vectors([record_id])[record_id], scratch.raw_store.vectors([other_id])
        assert mine.keys() == fresh[other_id].keys() == {"text", "visual", "joint"}
        for space, vector in mine.items():
            np.testing.assert_array_equal(vector, fresh[other_id][space], err_msg=f"{image} {space}")
        assert incremental.thumbnail_path(record_id).read_bytes() == scratch.thumbnail_path(other_id).read_bytes()
        kept, made = (
            Keypoints.load(incremental.keypoints_path(record_id)),
            Keypoints.load(scratch.keypoints_path(other_id)),
        )
        np.testing.assert_array_equal(kept.descriptors, made.descriptors)


def test_a_run_stopped_midway_keeps_the_last_version_whole_and_the_next_one_reuses_it(settings, tmp_path):
    folder = tmp_path / "cases"
    diagnoses = case_folder(folder, 3)
    index, _, _ = run(settings, folder)
    committed = by_image(index)

    def stop(source: str, done: int, expected: int) -> None:
        if done >= 2:
            raise Cancelled("stopped")

    write_labels(folder, {**diagnoses, "img0.png": "koilocytosis"})
    with pytest.raises(Cancelled):
        Indexer(Index.open(settings.index_dir, settings), show_progress=False, on_progress=stop).add([folder])

    index = Index.open(settings.index_dir, settings)
    assert by_image(index) == committed
    assert all(
        index.thumbnail_path(rid).is_file() and index.keypoints_path(rid).is_file() for rid, _ in committed.values()
    )
    assert len(list(index.media_dir.iterdir())) == 6  # none of the stopped run's copies stay
    index, encoded, _ = run(settings, folder)
    assert encoded == 0 and by_image(index)["img0.png"][1]["diagnosis"] == "koilocytosis"


def test_forced_runs_and_indexes_without_recorded_revisions_encode_every_image(settings, tmp_path):
    folder = tmp_path / "cases"
    diagnoses = case_folder(folder, 2)
    run(settings, folder)
    assert run(settings, folder, force=True)[1] == 2
    write_labels(folder, {**diagnoses, "img0.png": "first fix"})
    assert run(settings, folder, force=True)[1] == 2

    meta = settings.index_dir / META_FILE  # as an index written before revisions were recorded: vectors of any model
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "revisions": {}}))
    write_labels(folder, {**diagnoses, "img0.png": "second fix"})
    assert run(settings, folder)[1] == 2


def test_a_store_keeping_vectors_in_fewer_bits_encodes_again_but_reuses_media(tmp_path):
    settings = hashing_settings(tmp_path, encoder=ENCODER, case_keypoints=True, faiss_index="hnsw-sq8")
    folder = tmp_path / "cases"
    diagnoses = case_folder(folder, 2)
    run(settings, folder)

    write_labels(folder, {**diagnoses, "img0.png": "fixed"})
    assert run(settings, folder)[1:] == (2, 0)  # 8-bit copies would drift from the encoder's vectors
