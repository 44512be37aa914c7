"""Fixtures the web UI's test modules share: a headless chromium for one test, and the web UI's caches emptied around a
test whose fake API must be asked afresh."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pymupdf
import pytest
import streamlit as st
from streamlit.runtime.media_file_manager import MediaFileManager

from pathatlas.ui import web_viewer
from pathatlas.ui.web_client import facets_kept


@pytest.fixture
def chromium():
    """Debian's chromium, headless (``test_browser.launch``), for one test."""
    from tests.ui.test_browser import CHROMIUM, launch, sync_api

    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    """Each test's fake API answers afresh: the tabs cache facets and records by path, across app runs and tests, and
    keep the facets last sent with an ETag (``facets_kept``) for every session."""
    forget_cached()
    yield
    forget_cached()


def forget_cached() -> None:
    st.cache_data.clear()
    facets_kept.clear()


@pytest.fixture
def book_pdf() -> bytes:
    """A three-page PDF, each page saying its number."""
    with pymupdf.open() as doc:
        for number in (1, 2, 3):
            doc.new_page().insert_text((72, 72), f"Page {number} of the book.")
        return doc.tobytes()


@pytest.fixture
def pdf_downloads(monkeypatch, book_pdf) -> tuple[list[str], list[tuple]]:
    """The viewer's service (``web_viewer.backend``) answering every GET with ``book_pdf``, and the downloads the page
    made: (the paths fetched, each download's (file name, type, data)), data a callable where fetched on a click."""
    fetched: list[str] = []
    made: list[tuple] = []

    class Service:
        def get(self, path: str) -> httpx.Response:
            fetched.append(path)
            return httpx.Response(200, content=book_pdf, request=httpx.Request("GET", path))

    def kept(manager, data, mimetype, coordinates, file_name=None, **kwargs):
        made.append((file_name, mimetype, data))
        return add_deferred(manager, data, mimetype, coordinates, file_name=file_name, **kwargs)

    add_deferred = MediaFileManager.add_deferred
    monkeypatch.setattr(MediaFileManager, "add_deferred", kept)
    monkeypatch.setattr(web_viewer, "backend", Service)
    return fetched, made
