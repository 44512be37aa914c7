"""A tester's finding: ``pathatlas mcp --http 0.0.0.0:PORT`` served the index to the network with no authentication
and no warning, where ``pathatlas serve --host 0.0.0.0`` is refused without a token unless --insecure. The MCP door
checks no token, so beyond loopback it is refused unless --insecure, before anything loads or listens."""

from __future__ import annotations

import pytest

from tests.helpers import one_error_line, run_cli

pytest.importorskip("mcp")


@pytest.fixture
def served(monkeypatch) -> list[str | None]:
    """The ``--http`` address each ``pathatlas mcp`` would have served, instead of loading an index and serving."""
    addresses: list[str | None] = []
    monkeypatch.setattr("pathatlas.ui.mcp_server.serve", lambda settings, http, allow_dirs: addresses.append(http))
    return addresses


@pytest.mark.parametrize("address", ["0.0.0.0:8765", "192.168.1.20:8765", "[::]:8765", "atlas.example.org:8765"])
def test_http_beyond_loopback_is_refused_in_one_line_before_serving(address, served, tmp_path):
    refused = run_cli("mcp", "--index", tmp_path / "idx", "--http", address, home=tmp_path / "home")
    line = one_error_line(refused, f"--http {address}", "--insecure")
    assert "PATHATLAS_API_TOKEN" in line, "says why a token does not help"
    assert served == []
    with_token = run_cli("mcp", "--http", address, home=tmp_path / "home", PATHATLAS_API_TOKEN="s3cret")
    one_error_line(with_token, "--insecure")
    assert served == [], "MCP checks no token: setting one opens nothing"


@pytest.mark.parametrize("address", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765"])
def test_http_on_loopback_and_stdio_still_serve(address, served, tmp_path):
    for args in (("--http", address), ()):
        result = run_cli("mcp", "--index", tmp_path / "idx", *args, home=tmp_path / "home")
        assert result.exit_code == 0, result.output
    assert served == [address, None]


def test_insecure_serves_beyond_loopback(served, tmp_path):
    result = run_cli("mcp", "--index", tmp_path / "idx", "--http", "0.0.0.0:8765", "--insecure", home=tmp_path / "home")
    assert result.exit_code == 0, result.output
    assert served == ["0.0.0.0:8765"]
