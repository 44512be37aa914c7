"""A Qdrant server URL with credentials (``https://reader:s3cret@qdrant.test:6333/?api-key=x``) never shows them: every
message naming the server (its collection missing, a copied index folder, a server that keeps no collection metadata or
cannot be reached), ``info`` and its ``--json``, the service's start-up line and its /health show it as ``pathatlas
settings`` does; ``remote.json`` records it without them, and a folder an older version recorded with them still opens
with them. Every store says where its vectors are (``VectorStore.placement``). The "server" is qdrant-client's local
copy (a folder) behind a patched ``QdrantClient``, as in ``test_qdrant_url``; hashing encoder and small PDFs."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import httpx
import orjson
import pytest
import qdrant_client
from click.testing import Result
from fastapi.testclient import TestClient
from qdrant_client.http.exceptions import UnexpectedResponse

from pathatlas.retrieval.index import Index
from pathatlas.retrieval.stores.qdrant_store import REMOTE_FILE
from pathatlas.retrieval.stores.views import EmptyStore
from pathatlas.settings import Settings, without_credentials
from pathatlas.ui.api.app import create_app
from tests.helpers import one_error_line
from tests.retrieval.test_index_folder_faults import build
from tests.retrieval.test_qdrant_index_copies import cli

pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect")  # the "server" is a local copy

SECRET = "s3cret"
URL = f"https://reader:{SECRET}@qdrant.test:6333/?api-key=x"
SHOWN = "https://***@qdrant.test:6333/?***"
"""``URL`` as every message shows it."""
CONNECTED = "https://qdrant.test:6333/"
"""``URL`` as qdrant-client connects to it (it sends neither the password nor the query), and as it is recorded."""
LOCAL_CLIENT = qdrant_client.QdrantClient


@pytest.fixture
def server(tmp_path, monkeypatch) -> list[str]:
    """A client for any URL opens qdrant-client's local copy at ``tmp_path/served``; the URLs clients were given."""
    asked: list[str] = []

    def client(url: str | None = None, **_) -> LOCAL_CLIENT:
        asked.append(url)
        return LOCAL_CLIENT(path=str(tmp_path / "served"))

    monkeypatch.setattr(qdrant_client, "QdrantClient", client)
    return asked


def served_index(root: Path) -> Settings:
    """An index of two books on the "server" at ``URL``, whose ``REMOTE_FILE`` records ``URL`` with its credentials,
    as versions before this one wrote it; its settings name no server (the folder does)."""
    settings, _ = build(root, store="qdrant", qdrant_url=URL)
    (settings.index_dir / "store" / REMOTE_FILE).write_bytes(orjson.dumps({"url": URL, "collection": "index"}))
    return settings.model_copy(update={"qdrant_url": None})


def shown(settings: Settings, *args, **env) -> Result:
    """``pathatlas ARGS`` on ``settings``' home, which printed no credentials."""
    result = cli(settings, *args, **env)
    assert SECRET not in result.output, result.output
    return result


def drop_collection(root: Path) -> None:
    client = LOCAL_CLIENT(path=str(root / "served"))
    try:
        client.delete_collection("index")
    finally:
        client.close()


def test_an_export_to_a_url_with_credentials_records_none_and_the_folder_opens(tmp_path, server):
    settings, _ = build(tmp_path)
    out = tmp_path / "exported"
    made = shown(settings, "export", "--to", URL, "--index", settings.index_dir, "--out", out, "--json")
    assert made.exit_code == 0 and json.loads(made.stdout)["url"] == SHOWN, made.output
    again = shown(settings, "export", "--to", URL, "--index", settings.index_dir, "--out", tmp_path / "again")
    assert f"collection 'index' at {SHOWN}" in one_error_line(again), again.output  # refused, the URL hidden
    other = ["--collection", "other", "--out", tmp_path / "other"]
    said = shown(settings, "export", "--to", URL, "--index", settings.index_dir, *other)
    assert said.exit_code == 0 and f"into collection 'other' at {SHOWN}" in said.output, said.output
    assert json.loads((out / "store" / REMOTE_FILE).read_text()) == {"url": CONNECTED, "collection": "index"}
    assert not [f for f in out.rglob("*") if f.is_file() and SECRET.encode() in f.read_bytes()]

    info = shown(settings, "info", "--index", out, "--json")
    assert json.loads(info.stdout)["store_placement"] == f"qdrant server {CONNECTED}, collection index"
    found = shown(settings, "search", "beta page", "--index", out, "--json")
    assert found.exit_code == 0 and "beta.pdf" in found.stdout, found.output
    assert server[-1] == CONNECTED


def test_a_folder_recorded_with_credentials_opens_with_them_shows_none_and_keeps_none(tmp_path, server, caplog):
    settings = served_index(tmp_path)
    index = settings.index_dir
    text, as_json = shown(settings, "info", "--index", index), shown(settings, "info", "--index", index, "--json")
    assert text.exit_code == 0 and f"store qdrant server {SHOWN}, collection index  dims" in text.output, text.output
    assert json.loads(as_json.stdout)["store_placement"] == f"qdrant server {SHOWN}, collection index"
    assert set(server) == {URL}  # the recorded URL goes to the client as it is

    again = shown(settings, "index", "--index", index, "--force")
    assert again.exit_code == 0, again.output
    assert json.loads((index / "store" / REMOTE_FILE).read_text())["url"] == CONNECTED  # its commit records none
    found = shown(settings, "search", "beta page", "--index", index, "--json")
    assert found.exit_code == 0 and "beta.pdf" in found.stdout, found.output
    assert SECRET not in caplog.text


@pytest.mark.parametrize("env", [{}, {"PATHATLAS_QDRANT_URL": URL}], ids=["recorded", "set"])
def test_a_missing_collection_names_the_server_without_its_credentials(tmp_path, server, caplog, env):
    settings = served_index(tmp_path)
    drop_collection(tmp_path)
    for command in (["search", "beta page"], ["info"]):
        said = shown(settings, *command, "--index", settings.index_dir, **env)
        one_error_line(said, f"the Qdrant collection 'index' at {SHOWN} does not exist:")
    assert SECRET not in caplog.text


def test_a_copied_folder_is_refused_naming_the_server_without_its_credentials(tmp_path, server, caplog):
    settings = served_index(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(settings.index_dir, copy)
    assert shown(settings, "index", "--index", copy, "--force").exit_code == 0  # the copy writes the collection
    refused = shown(settings, "search", "beta page", "--index", settings.index_dir)
    wrote = f"is not the folder that last wrote the Qdrant collection 'index' at {SHOWN}: index folder"
    one_error_line(refused, wrote)
    assert SECRET not in caplog.text


def test_a_server_without_collection_metadata_is_logged_without_its_credentials(tmp_path, server, monkeypatch, caplog):
    def refused(*_, **__):
        raise UnexpectedResponse(400, "Bad Request", b"unknown field metadata", httpx.Headers())

    monkeypatch.setattr(LOCAL_CLIENT, "update_collection", refused)
    served_index(tmp_path)
    said = [r.getMessage() for r in caplog.records if "keeps no collection metadata" in r.getMessage()]
    assert said and said[0].startswith(f"Qdrant at {SHOWN} keeps no collection metadata"), said
    assert SECRET not in caplog.text


@pytest.mark.filterwarnings("ignore:Failed to obtain server version")
def test_an_unreachable_server_is_named_without_its_credentials(tmp_path, caplog):
    settings, books = build(tmp_path)
    unreachable = f"https://reader:{SECRET}@127.0.0.1:1/?api-key=x"  # nothing listens on port 1
    made = shown(settings, "index", books[0], "--index", tmp_path / "new", "--store", "qdrant",
                 PATHATLAS_QDRANT_URL=unreachable)  # fmt: skip
    one_error_line(made, "cannot reach Qdrant at https://***@127.0.0.1:1/?***: ")
    assert SECRET not in caplog.text


def test_the_service_names_where_the_vectors_are_without_the_credentials(tmp_path, server, caplog):
    settings = served_index(tmp_path)
    with caplog.at_level(logging.INFO), TestClient(create_app(settings)) as client:
        (started,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("serving index")]
        assert f"serving index index (qdrant server {SHOWN}, collection index, " in started, started
        assert client.app.state.engine.ready.wait(120), "the warm-up never ended"
        client.app.state.engine.index.raw_store.engine.client.delete_collection("index")
        health = client.get("/health")
        assert health.status_code == 503, health.text
        assert health.json()["problem"].startswith(f"the Qdrant collection 'index' at {SHOWN} does not exist any more")
    assert SECRET not in caplog.text


def test_every_store_says_where_its_vectors_are(tmp_path, server):
    faiss, _ = build(tmp_path / "faiss")
    with Index.open(faiss.index_dir, faiss) as index:
        assert index.store.placement == "faiss"  # a store's kind unless it says more
    served = served_index(tmp_path / "qdrant")
    with Index.open(served.index_dir, served) as index:
        assert index.store is not index.raw_store  # the view of the committed generation passes it on
        assert index.store.placement == index.raw_store.placement == f"qdrant server {SHOWN}, collection index"
    assert EmptyStore(tmp_path / "none" / "store", {"text": 4}, faiss).placement == "empty"


def test_a_scheme_less_url_is_refused_without_its_password_and_ipv6_keeps_its_brackets():
    with pytest.raises(ValueError) as refused:
        Settings(qdrant_url=f"reader:{SECRET}@qdrant.test:6333")
    assert SECRET not in str(refused.value) and "http://***@qdrant.test:6333" in str(refused.value), refused.value
    assert without_credentials(f"http://reader:{SECRET}@[::1]:6333/") == "http://***@[::1]:6333/"
