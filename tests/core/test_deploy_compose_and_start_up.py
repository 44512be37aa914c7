"""An operator running the service for a department: what the start-up log says of an index an older PathAtlas
wrote, and the deployment files (docs/deploy) doing what they say: the web UI reachable through its published port,
the API's healthcheck passing on a healthy service and failing on one that cannot search. Hashing encoder throughout."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.index import Index
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.routes import service
from pathatlas.ui.cli import is_loopback
from tests.helpers import hashing_settings
from tests.retrieval.test_upgrades import as_an_older_version_wrote_it, build
from tests.servers import running_service

COMPOSE = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "docker-compose.yml"


def start_up_warnings(settings, caplog) -> list[str]:
    """The warnings the service logs while it starts on ``settings``' index."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pathatlas"), TestClient(create_app(settings)):
        pass
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


def compose_service(name: str) -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"][name]


def test_a_service_on_an_index_an_older_version_wrote_says_so_at_start_and_what_upgrades_it(tmp_path, caplog):
    settings, books = as_an_older_version_wrote_it(tmp_path)
    (warning,) = start_up_warnings(settings, caplog)
    assert warning.startswith(f"index {settings.index_dir} was written by an older PathAtlas: BM25 of terms")
    assert "2 source(s) were read by an older PathAtlas reader" in warning
    command = f"`pathatlas index --index {settings.index_dir}`"
    assert "keep a copy of the folder" in warning and command in warning, warning
    with Index.open(settings.index_dir, settings) as index:  # the remedy it names
        assert not Indexer(index, show_progress=False).add(books).failed
    assert start_up_warnings(settings, caplog) == []


def test_a_service_on_an_index_of_this_version_warns_of_nothing(tmp_path, caplog):
    settings, _ = build(tmp_path)
    assert start_up_warnings(settings, caplog) == []


def test_the_compose_web_ui_listens_where_its_published_port_reaches():
    """In a container, 127.0.0.1 (``pathatlas ui``'s default) is not reached through a published port."""
    command = compose_service("ui")["command"]
    assert "--host" in command, command
    assert not is_loopback(command[command.index("--host") + 1])
    assert "PATHATLAS_API_TOKEN" not in compose_service("ui").get("environment", {}), "its Library is read-only"


def healthcheck_passes(base_url: str) -> bool:
    """Whether the compose API's healthcheck, run as Docker runs it, passes against the service at ``base_url``."""
    test = compose_service("api")["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "python", "the slim image has Python, not curl"
    command = [sys.executable, *(part.replace("http://127.0.0.1:8000", base_url) for part in test[2:])]
    return subprocess.run(command, capture_output=True, timeout=60).returncode == 0


def test_the_compose_api_healthcheck_passes_on_a_healthy_service_and_fails_on_one_that_cannot_search(
    tmp_path, monkeypatch
):
    settings = hashing_settings(tmp_path)
    with running_service(settings) as url:
        assert healthcheck_passes(url)
        monkeypatch.setattr(service, "store_problem", lambda engine: "the index's Qdrant collection is gone")
        assert not healthcheck_passes(url)
