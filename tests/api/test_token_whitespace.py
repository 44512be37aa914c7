"""A bearer token set with a trailing space or newline (an env file, a mounted secret) is the token without it: HTTP
strips surrounding whitespace from header values, so kept whole it could never match and every write got 401."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pathatlas.settings import load_settings
from pathatlas.ui.api.app import create_app
from tests.uploads import api_settings


@pytest.mark.parametrize(("given", "kept"), [("s3cret \n", "s3cret"), ("\ts3cret", "s3cret"), ("  ", None), ("", None)])
def test_the_token_from_the_environment_is_stripped_and_a_blank_one_is_none(monkeypatch, given, kept):
    monkeypatch.setenv("PATHATLAS_API_TOKEN", given)
    assert load_settings().api_token == kept


def test_a_token_set_with_a_trailing_newline_lets_its_holder_write(tmp_path):
    with TestClient(create_app(api_settings(tmp_path, api_token="s3cret\n"))) as client:
        assert client.delete("/sources/a.pdf", headers={"Authorization": "Bearer s3cret"}).status_code == 404
        assert client.delete("/sources/a.pdf", headers={"Authorization": "Bearer wrong"}).status_code == 401
