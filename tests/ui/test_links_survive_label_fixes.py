"""A look-alike search's link (``?similar=<id>``) made before a diagnosis was fixed in its case folder named a record
id the fix replaced: opened after it, the page said the result was not in the library. The URL names the image's key
beside its id (``similar_source``, ``similar_case``, ``similar_image``), which finds it again. The Search tab drawn in
Streamlit's AppTest over the real API in process (hashing encoder, tiny files)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from pathatlas.ui import web_client
from pathatlas.ui.api.app import create_app
from pathatlas.ui.web_search_state import LINKED_GONE
from tests.api.test_links_survive_label_fixes import FIXED, ROWS, fixed, index, write_folder
from tests.ui.test_web_search_image_words_and_history import opened, ran, status
from tests.uploads import api_settings

pytestmark = pytest.mark.usefixtures("fresh_cache")  # conftest.py


class Service:
    """The API the tab asks (``web_client.fetch``), served afresh by ``serving`` as a restarted service is, and the
    similar searches it was sent."""

    def __init__(self, settings):
        self.settings = settings
        self.client: TestClient | None = None
        self.similar: list[str] = []

    def fetch(self, method: str, path: str, **kwargs) -> httpx.Response:
        if path == "/search/similar":
            self.similar.append(kwargs["json"]["id"])
        return self.client.request(method, path, **kwargs)

    @contextmanager
    def serving(self) -> Iterator[None]:
        with TestClient(create_app(self.settings)) as self.client:
            yield


@pytest.fixture
def service(tmp_path, monkeypatch) -> tuple[Service, object]:
    settings = api_settings(tmp_path)
    folder = write_folder(tmp_path / "cases", ROWS)
    index(settings, folder)
    served = Service(settings)
    monkeypatch.setattr(web_client, "fetch", served.fetch)
    return served, folder


def looked_alike(app: AppTest) -> AppTest:
    """Find similar pressed on the first card."""
    next(button for button in app.button if button.key.startswith("similar-")).click()
    return ran(app)


def test_a_look_alike_link_made_before_a_label_fix_shows_its_look_alikes_after_it(service):
    served, folder = service
    with served.serving():
        app = looked_alike(opened({"q": "granulom"}))
        link, shown = dict(app.query_params), status(app)
        assert shown == "1 result that look like case C-1 (granulom)"
        (before,) = served.similar
    assert (link.get("similar_case"), link.get("similar_image") in ("a.png", "b.png")) == ("C-1", True), link
    index(served.settings, fixed(folder))
    with served.serving():
        again = opened(link)
        assert status(again) == shown.replace("(granulom)", f"({FIXED})") != LINKED_GONE, "its new diagnosis"
        (_, now) = served.similar
        assert now != before, "searched by the id the fix gave the image"
        assert served.client.get(f"/records/{link['similar']}").status_code == 404
