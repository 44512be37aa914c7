"""A slide's heading is the subject of its bullets: the answerer reads a bullet of lecture notes as holding its slide's
heading ("Most common benign tumor" under "Pulmonary Hamartoma"), and a printed page's sentences as they are. Hashing
encoder: no model is the point."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pathatlas.ui.api.app import create_app
from tests.helpers import hashing_settings, index_new

DECK = """## Carcinoid tumour

- Neuroendocrine cells in nests
- Central bronchus, often a young adult

## Pulmonary Hamartoma

- Most common benign tumor
- Popcorn calcification on imaging

## Lymphoma

- Rarely primary in the lung
"""


def test_a_bullet_is_read_under_its_slides_heading(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "lung-tumors.qmd").write_text(DECK)
    settings = hashing_settings(tmp_path)
    index_new(settings, notes)
    question = {
        "question": "What is the most common benign tumor of the lung?",
        "options": ["Carcinoid", "Pulmonary hamartoma", "Lymphoma"],
    }
    with TestClient(create_app(settings)) as client:
        answer = client.post("/ask", json=question).json()
    assert answer["answer"] == "Pulmonary hamartoma", answer["rationale"]
    (chosen,) = [option for option in answer["options"] if option["text"] == answer["answer"]]
    quoted = {(quote["quote"], quote["stance"], quote["citation"]["label"]) for quote in chosen["evidence"]}
    assert ("Most common benign tumor", "supports", "lung-tumors.qmd, slide 2") in quoted
