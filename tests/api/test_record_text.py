"""A record fetched by id holds its whole text, where its snippet is cut: a slide of lecture notes has no page to
render, so this is how a student reads it whole. Hashing encoder: no model is the point."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pathatlas.ui.api.app import create_app
from tests.helpers import hashing_settings, index_new


def test_a_fetched_slide_holds_every_word_its_snippet_cut(tmp_path):
    bullets = [f"- Finding {n}: granulomas with epithelioid histiocytes and giant cells" for n in range(40)]
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "granulomas.qmd").write_text("## Granulomatous inflammation\n\n" + "\n".join(bullets) + "\n")
    settings = hashing_settings(tmp_path)
    index_new(settings, notes)
    with TestClient(create_app(settings)) as client:
        hit = client.post("/search", json={"text": "granulomas epithelioid", "k": 1}).json()["hits"][0]
        record = client.get(f"/records/{hit['id']}").json()
    assert hit["snippet"].endswith("…") and hit["page_url"] is None
    assert record["text"].startswith("Granulomatous inflammation") and "Finding 39:" in record["text"]
