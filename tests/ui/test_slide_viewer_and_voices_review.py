"""Review RV5 of the whole-slide viewer, in the real UI over a real service: a slide opened from a search, its deck
then removed in the Library, was still shown whole at the next run, and its Next slide said "no slide after slide 15
in the index". Drawn in Streamlit's AppTest over the API in process (a deck indexed with the hashing encoder)."""

from __future__ import annotations

import html

import pytest
from fastapi.testclient import TestClient

from pathatlas.ui import web_client
from pathatlas.ui.api.app import create_app
from tests.helpers import hashing_settings, index_new, note
from tests.ui.test_viewer_whole_slide import DECK, found_slide, paragraphs, ran, viewed

pytestmark = pytest.mark.usefixtures("fresh_cache")  # conftest.py


@pytest.fixture
def client(tmp_path, monkeypatch):
    """The API in process over an index of ``DECK`` of its own (a test removes it)."""
    index_new(hashing_settings(tmp_path), note(tmp_path / "notes", "meningioma.md", DECK))
    with TestClient(create_app(hashing_settings(tmp_path))) as client:
        monkeypatch.setattr(web_client, "fetch", lambda method, path, **kwargs: client.request(method, path, **kwargs))
        yield client


def test_a_slide_shown_whole_is_said_gone_once_its_deck_is_removed(client):
    hit = found_slide(client, 2)
    app = viewed(hit)
    assert paragraphs(app)[0] == "Histologic patterns"
    client.delete(f"/sources/{hit['citation']['source_id']}").raise_for_status()
    ran(app)  # a click anywhere: the slide is drawn again from what the session keeps
    assert not [m for m in app.markdown if "class='whole-text'" in m.value], "the removed slide still shown"
    assert [html.unescape(error.value.replace("\\", "")) for error in app.error] == [
        f"{hit['citation']['label']} is no longer in the library: its source was removed, or indexed again, since it"
        " was found."
    ]
