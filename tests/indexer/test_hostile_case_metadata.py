"""A hostile user's uploads (s36): a case folder's metadata that names one image a huge number of times, or gives a
field megabytes long, is refused or read cheaply, and what the index held before still answers."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.sources import cases as case_sources
from pathatlas.indexer.sources.cases import FIELD_CHARS, CaseFolderSource
from pathatlas.ui.api.app import create_app
from pathatlas.ui.bench_crash import make_pdf
from tests.helpers import hashing_settings, index_new, png_bytes
from tests.servers import job_ended
from tests.uploads import AUTH, api_settings, upload, zipped

LISTED_TIMES = 300


def picture() -> bytes:
    """A 64-pixel PNG of noise (under 32 pixels a side an image is not indexed)."""
    return png_bytes(Image.effect_noise((64, 64), 40).convert("RGB"))


def case_folder(root: Path, rows: list[dict]) -> Path:
    """``root/cases``: one 64-pixel PNG ``a.png`` and a ``cases.jsonl`` of ``rows``."""
    folder = root / "cases"
    folder.mkdir()
    (folder / "a.png").write_bytes(picture())
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def test_an_image_listed_many_times_is_resolved_and_hashed_once(tmp_path, monkeypatch):
    """A 138 KB zip whose labels.csv named one image 2,000,000 times held the index worker for over ten minutes,
    past its cancel: each row's path was resolved four times and the image hashed once a row."""
    folder = case_folder(tmp_path, [{"image": "a.png", "case": "C1"}] * LISTED_TIMES)
    resolved, hashed = [], []
    real_resolve, real_hash = Path.resolve, case_sources.hash_files
    monkeypatch.setattr(Path, "resolve", lambda path, *a, **k: resolved.append(path) or real_resolve(path, *a, **k))
    monkeypatch.setattr(case_sources, "hash_files", lambda paths, *a: hashed.extend(paths) or real_hash(paths, *a))
    source = CaseFolderSource(folder, hashing_settings(tmp_path))
    source.fingerprint()
    records = list(source.records())
    assert len(records) == 1 and f"'a.png' is listed {LISTED_TIMES} times in case 'C1'" in source.problems[0]
    assert [path.name for path in hashed] == ["cases.jsonl", "a.png"], "each file hashed once"
    image_resolves = [path for path in resolved if path.name == "a.png"]
    assert len(image_resolves) < 10, f"{len(image_resolves)} look-ups of one listed image"


@pytest.mark.parametrize(
    ("field", "length", "said"),
    [
        ("diagnosis", FIELD_CHARS + 1, f"the diagnosis of 'a.png' is 1,001 characters; at most {FIELD_CHARS:,}"),
        ("stain", 100_000, f"the stain of 'a.png' is 100,000 characters; at most {FIELD_CHARS:,}"),
        ("description", 20_001, "the description of 'a.png' is 20,001 characters; at most 20,000"),
    ],
)
def test_a_field_too_long_fails_its_folder_in_one_line(tmp_path, field, length, said):
    folder = case_folder(tmp_path, [{"image": "a.png", field: "B" * length}])
    with pytest.raises(BadInputError) as refused:
        CaseFolderSource(folder, hashing_settings(tmp_path)).fingerprint()
    assert str(refused.value) == f"{folder / 'cases.jsonl'}: {said}"


def test_a_long_description_and_field_name_within_limits_are_read(tmp_path):
    folder = case_folder(tmp_path, [{"image": "a.png", "description": "d" * 20_000, "S" * FIELD_CHARS: "PAS"}])
    source = CaseFolderSource(folder, hashing_settings(tmp_path))
    source.fingerprint()
    (case,) = source.records()
    assert case.description == "d" * 20_000


def test_a_field_name_too_long_is_refused(tmp_path):
    folder = case_folder(tmp_path, [{"image": "a.png", "S" * (FIELD_CHARS + 1): "PAS"}])
    with pytest.raises(BadInputError, match="the row of 'a.png' names a field of 1,001 characters; at most 1,000"):
        CaseFolderSource(folder, hashing_settings(tmp_path)).fingerprint()


def test_an_uploaded_ten_megabyte_diagnosis_fails_its_job_and_searches_stay_small(tmp_path):
    """A 32 KB zip of one image whose cases.jsonl gave a 10 MB diagnosis made every search answer 21 MB, /facets 10
    MB: its job now fails in one line (its line is over the metadata line cap, before any field is read), and the
    book indexed before answers as it did. (Ten megabytes of one letter are now refused at the upload as a zip bomb,
    ``test_zip_budget``; a diagnosis that barely compresses still reaches the job.)"""
    make_pdf(tmp_path / "books" / "book.pdf", 2, "v1")
    settings = api_settings(tmp_path, api_token="t0ken")
    index_new(settings, tmp_path / "books")
    diagnosis = base64.b64encode(os.urandom(150_000)).decode()  # 200,000 characters that barely compress
    row = {"image": "a.png", "case": "C1", "diagnosis": diagnosis}
    bomb = zipped(("cases.jsonl", json.dumps(row).encode()), ("a.png", picture()))
    with TestClient(create_app(settings)) as client:
        before = client.post("/search", json={"text": "page", "k": 5}).json()
        response = upload(client, "poison.zip", bomb, headers=AUTH)
        assert response.status_code == 202, response.text
        job = job_ended(client, response.json()["id"])
        assert job["status"] == "failed"
        assert "cases.jsonl line 1 is over 131,072 characters long" in job["error"], job["error"]
        after = client.post("/search", json={"text": "page", "k": 5})
        assert after.json() == before and len(after.content) < 100_000
        assert [source["source"] for source in client.get("/sources").json()] == ["book.pdf"]
