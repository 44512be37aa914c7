"""A case image damaged since its folder was indexed (emptied, cut short by a sync client) keeps the record it was
indexed with, while a deleted one goes; and why a record's id holds its folder's fingerprint: a store that writes at
once (Qdrant) keeps one record per id, so a new version's record under an old id would replace the committed one
before its commit, and a run failing then would lose it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings
from tests.helpers import hashing_settings
from tests.indexer.test_incremental_cases import ENCODER, by_image, case_folder, run, slide, write_labels

DAMAGES = {
    "emptied": lambda data: b"",
    "cut to a third": lambda data: data[: len(data) // 3],
}


@pytest.fixture(params=["faiss", "qdrant"])
def settings(tmp_path, request) -> Settings:
    return hashing_settings(tmp_path, encoder=ENCODER, case_keypoints=True, store=request.param)


def problems(index: Index, folder: Path) -> list[str]:
    return index.manifest[str(folder.resolve())]["problems"]


def stored(index: Index, record_id: str) -> dict[str, np.ndarray]:
    return index.raw_store.vectors([record_id])[record_id]


@pytest.mark.parametrize("damage", DAMAGES)
def test_an_image_damaged_since_indexed_keeps_its_picture_and_says_so(settings, tmp_path, damage):
    folder = tmp_path / "cases"
    diagnoses = case_folder(folder, 3)
    index, _, _ = run(settings, folder)
    before_id, before = by_image(index)["img1.png"]
    vectors, thumbnail = stored(index, before_id), index.thumbnail_path(before_id).read_bytes()

    image = folder / "img1.png"
    image.write_bytes(DAMAGES[damage](image.read_bytes()))
    index, encoded, keypointed = run(settings, folder)

    assert (encoded, keypointed) == (0, 0)
    records = by_image(index)
    assert set(records) == set(diagnoses)
    kept_id, kept = records["img1.png"]
    assert (kept["case"], kept["diagnosis"], kept["image_hash"]) == ("img1", "diagnosis 1", before["image_hash"])
    assert stored(index, kept_id).keys() == vectors.keys()
    for space, vector in stored(index, kept_id).items():
        np.testing.assert_array_equal(vector, vectors[space], err_msg=space)
    assert index.thumbnail_path(kept_id).read_bytes() == thumbnail and index.keypoints_path(kept_id).is_file()
    said = problems(index, folder)
    assert any(line.startswith(str(image)) for line in said), said
    assert f"{folder}: 'img1.png' (case 'img1') kept as indexed before: its file cannot be read now" in said


def test_a_kept_picture_stays_through_other_changes_until_its_file_is_readable_again(settings, tmp_path):
    folder = tmp_path / "cases"
    diagnoses = case_folder(folder, 3)
    index, _, _ = run(settings, folder)
    image = folder / "img1.png"
    good = image.read_bytes()
    image.write_bytes(b"")
    run(settings, folder)

    write_labels(folder, {**diagnoses, "img1.png": "koilocytosis"})  # a label fixed while the file is still empty
    index, encoded, _ = run(settings, folder)
    assert encoded == 0 and by_image(index)["img1.png"][1]["diagnosis"] == "koilocytosis"
    assert any("kept as indexed before" in line for line in problems(index, folder))

    image.write_bytes(good)  # synced at last
    index, encoded, _ = run(settings, folder)
    assert encoded == 0 and set(by_image(index)) == set(diagnoses)
    assert not any("img1.png" in line for line in problems(index, folder))


def test_a_store_keeping_vectors_in_fewer_bits_still_gives_a_kept_picture_its_image_vectors(tmp_path):
    settings = hashing_settings(tmp_path, encoder=ENCODER, faiss_index="hnsw-sq8")
    folder = tmp_path / "cases"
    case_folder(folder, 2)
    run(settings, folder)

    (folder / "img1.png").write_bytes(b"")
    index, encoded, _ = run(settings, folder)
    record_id, _ = by_image(index)["img1.png"]
    assert encoded == 1, "the readable image is encoded again, as such a store gives no exact copy"
    assert stored(index, record_id).keys() == {"text", "visual", "joint"}


def test_an_image_deleted_or_damaged_before_its_first_index_is_not_kept(settings, tmp_path):
    folder = tmp_path / "cases"
    diagnoses = case_folder(folder, 3)
    (folder / "img2.png").write_bytes(b"")  # never indexed: no picture to keep
    run(settings, folder)

    (folder / "img0.png").unlink()  # deleted, its row kept: dropped as README says
    index, _, _ = run(settings, folder)
    assert set(by_image(index)) == {"img1.png"}

    (folder / "img1.png").unlink()  # deleted with its row
    slide(9).save(folder / "new.png")
    write_labels(folder, {"new.png": "new diagnosis", "img2.png": diagnoses["img2.png"]})
    index, _, _ = run(settings, folder)
    assert set(by_image(index)) == {"new.png"}
    assert not any("kept as indexed before" in line for line in problems(index, folder))


def test_an_image_its_settings_now_leave_out_is_not_kept(settings, tmp_path):
    folder = tmp_path / "cases"
    case_folder(folder, 2)
    slide(5).resize((256, 256)).save(folder / "img0.png")  # 65,536 pixels, the others 36,864
    run(settings, folder)

    index, _, _ = run(settings.model_copy(update={"max_image_pixels": 50_000}), folder)
    assert set(by_image(index)) == {"img1.png"}
    assert not any("kept as indexed before" in line for line in problems(index, folder))


def test_a_failed_run_keeps_the_committed_records_whose_ids_it_would_have_taken(settings, tmp_path, monkeypatch):
    """The reason ids hold the folder's fingerprint: had the fixed folder's records kept their ids, Qdrant's upserts
    would have replaced the committed records before the commit failed, and its clean-up would have deleted them."""
    folder = tmp_path / "cases"
    diagnoses = case_folder(folder, 3)
    index, _, _ = run(settings, folder)
    committed = by_image(index)

    def failing(self: Index, sources: object = None) -> None:
        raise OSError("disk trouble at the commit")

    write_labels(folder, {**diagnoses, "img2.png": "koilocytosis"})
    with monkeypatch.context() as patch:
        patch.setattr(Index, "commit", failing)
        report = Indexer(Index.open(settings.index_dir, settings), show_progress=False).add([folder])
    assert [source.status for source in report.sources] == ["failed"]
    assert by_image(Index.open(settings.index_dir, settings)) == committed
