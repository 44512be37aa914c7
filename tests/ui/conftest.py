"""Fixtures the web UI's test modules share: a headless chromium for one test, and the web UI's caches emptied around a
test whose fake API must be asked afresh."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

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
