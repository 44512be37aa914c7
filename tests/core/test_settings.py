"""Settings an operator can read and that refuse bad values at start, naming the variable: ``pathatlas settings`` shows
each one (a secret as set or unset), list settings take commas as well as JSON, server URLs need their scheme, names
of stores, answerers and LLM providers are checked before any work, and the web UI reads its variables through the
settings (its token stripped as the server strips it)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from pathatlas.errors import BadInputError
from pathatlas.settings import OTHER_VARIABLES, Settings, load_settings, setting_variables, unknown_variables
from tests.helpers import one_error_line, run_cli, send_json
from tests.ui.test_web_ui_cases_filters_and_phone import FACETS, REMOVE, SOURCE, run_app

SECRETS = {"PATHATLAS_API_TOKEN": "s3cret-token\n", "PATHATLAS_LLM_API_KEY": "sk-s3cret"}


# 1. pathatlas settings


def test_settings_json_lists_every_setting_its_value_source_and_description(tmp_path):
    result = run_cli("settings", "--json", home=tmp_path / "home", PATHATLAS_RRF_K="30", **SECRETS)
    assert result.exit_code == 0, result.output
    shown = {row["variable"]: row for row in json.loads(result.stdout)}
    assert sorted(shown) == setting_variables()
    assert all(row["description"] for row in shown.values()), [v for v, row in shown.items() if not row["description"]]
    assert shown["PATHATLAS_RRF_K"] | {"description": ""} == {
        "variable": "PATHATLAS_RRF_K",
        "value": 30,
        "source": "environment",
        "secret": False,
        "description": "",
    }
    assert (shown["PATHATLAS_WEIGHT_BM25"]["value"], shown["PATHATLAS_WEIGHT_BM25"]["source"]) == (1.0, "default")
    assert shown["PATHATLAS_HOME"]["value"] == str(tmp_path / "home")
    secrets = {variable: (row["value"], row["secret"]) for variable, row in shown.items() if row["secret"]}
    assert secrets == {
        "PATHATLAS_API_TOKEN": ("set", True),
        "PATHATLAS_LLM_API_KEY": ("set", True),
        "PATHATLAS_QDRANT_API_KEY": (None, True),
        "PATHATLAS_UPLOAD_TOKEN": (None, True),
    }
    assert "s3cret" not in result.output


def test_settings_table_shows_values_and_where_they_came_from_but_no_secret(tmp_path):
    result = run_cli("settings", home=tmp_path / "home", PATHATLAS_LANGUAGES="de", **SECRETS)
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("│ PATHATLAS_")}
    assert sorted(rows) == setting_variables()
    assert [cell.strip() for cell in rows["PATHATLAS_LANGUAGES"].split("│")[2:4]] == ['["german"]', "environment"]
    assert [cell.strip() for cell in rows["PATHATLAS_INDEX"].split("│")[2:4]] == ["unset", "default"]
    assert [cell.strip() for cell in rows["PATHATLAS_API_TOKEN"].split("│")[2:4]] == ["set", "environment"]
    assert "s3cret" not in result.output


NO_MODEL = """
import json, sys
from typer.testing import CliRunner
from pathatlas.ui.cli import app
result = CliRunner().invoke(app, ["settings", "--json"])
heavy = ("torch", "onnxruntime", "open_clip", "transformers", "sentence_transformers", "faiss", "qdrant_client",
         "langchain_core", "pathatlas.retrieval.index", "pathatlas.retrieval.encoders")
print(json.dumps({"code": result.exit_code, "loaded": sorted(set(heavy) & set(sys.modules))}))
"""


def test_settings_need_no_index_and_load_no_model(tmp_path):
    env = {
        "PATHATLAS_HOME": str(tmp_path / "home"),
        "PATHATLAS_INDEX": str(tmp_path / "no-index"),
        "HF_HUB_OFFLINE": "1",
    }
    run = subprocess.run([sys.executable, "-c", NO_MODEL], env=env, capture_output=True, text=True, timeout=300)
    assert json.loads(run.stdout.splitlines()[-1]) == {"code": 0, "loaded": []}, run.stderr[-2000:]
    assert not (tmp_path / "no-index").exists() and not (tmp_path / "home").exists(), "nothing is written"


# 2. lists separated by commas, or JSON


@pytest.mark.parametrize(
    ("variable", "value", "field", "read"),
    [
        ("PATHATLAS_SOURCES", "py:foo.Bar", "sources", ["py:foo.Bar"]),
        ("PATHATLAS_SOURCES", "py:a.B, py:c.D", "sources", ["py:a.B", "py:c.D"]),
        ("PATHATLAS_SOURCES", '["py:a.B"]', "sources", ["py:a.B"]),
        ("PATHATLAS_CORS_ORIGINS", "*", "cors_origins", ["*"]),
        (
            "PATHATLAS_CORS_ORIGINS",
            "https://a.org,http://b.org:8501",
            "cors_origins",
            ["https://a.org", "http://b.org:8501"],
        ),
        ("PATHATLAS_CORS_ORIGINS", '["http://localhost:8501"]', "cors_origins", ["http://localhost:8501"]),
        ("PATHATLAS_LANGUAGES", "pt,de", "languages", ["german", "portuguese"]),
    ],
)
def test_a_list_setting_takes_commas_or_json(monkeypatch, variable, value, field, read):
    monkeypatch.setenv(variable, value)
    assert getattr(load_settings(), field) == read


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PATHATLAS_SOURCES", '["py:a.B"', "PATHATLAS_SOURCES='[\"py:a.B\"': Value error, not a JSON list"),
        ("PATHATLAS_SOURCES", "py:a.B,foo", "PATHATLAS_SOURCES='py:a.B,foo': Value error, name each source as"),
        ("PATHATLAS_CORS_ORIGINS", "https://a.org/", "PATHATLAS_CORS_ORIGINS='https://a.org/': Value error, 'https"),
        ("PATHATLAS_LANGUAGES", '["german"', "PATHATLAS_LANGUAGES='[\"german\"': Value error, not a JSON list"),
    ],
)
def test_a_list_that_does_not_fit_is_one_line_naming_it(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(BadInputError) as refused:
        load_settings()
    assert str(refused.value).startswith(f"bad setting {message}") and "\n" not in str(refused.value)


# 3. server URLs name their scheme


@pytest.mark.parametrize("variable", ["PATHATLAS_LLM_BASE_URL", "PATHATLAS_API_URL"])
def test_a_server_url_without_its_scheme_is_refused_naming_the_variable(monkeypatch, variable):
    monkeypatch.setenv(variable, "localhost:9")
    with pytest.raises(BadInputError) as refused:
        load_settings()
    assert str(refused.value) == (
        f"bad setting {variable}='localhost:9': Value error, no http:// or https://; write 'http://localhost:9'"
    )
    monkeypatch.setenv(variable, "https://llm.example.org/v1")
    assert getattr(load_settings(), variable.removeprefix("PATHATLAS_").lower()) == "https://llm.example.org/v1"


def test_ask_with_an_llm_url_without_scheme_fails_at_start_naming_it(tmp_path):
    env = {"PATHATLAS_ANSWERER": "llm", "PATHATLAS_LLM_BASE_URL": "localhost:9"}
    result = run_cli("ask", "Which cell resorbs bone?", "--index", tmp_path / "idx", home=tmp_path / "home", **env)
    one_error_line(result, "PATHATLAS_LLM_BASE_URL='localhost:9'", "no http:// or https://")


# 4. names checked at start, importing nothing


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        ("PATHATLAS_ANSWERER", "gpt", "unknown answerer; give one of offline, llm, py:package.module.Class"),
        ("PATHATLAS_STORE", "milvus", "unknown store; give one of faiss, qdrant, py:package.module.Class"),
        ("PATHATLAS_LLM_PROVIDER", "anthropic", "unknown llm provider; give one of openai, ollama"),
        ("PATHATLAS_LLM_PROVIDER", "py:my.Provider", "unknown llm provider; give one of openai, ollama"),
        ("PATHATLAS_ANSWERER", "py:answerer", "not a plug-in's path; write py:package.module.Class"),
        ("PATHATLAS_STORE", "py:my store.Store", "not a plug-in's path; write py:package.module.Class"),
    ],
)
def test_an_unknown_name_is_refused_at_start_naming_the_variable_and_the_choices(monkeypatch, variable, value, why):
    monkeypatch.setenv(variable, value)
    with pytest.raises(BadInputError) as refused:
        load_settings()
    assert str(refused.value) == f"bad setting {variable}={value!r}: Value error, {why}"


def test_a_plugin_name_is_checked_without_importing_it(monkeypatch):
    monkeypatch.setenv("PATHATLAS_STORE", "py:no_such_package_s40.stores.Store")
    monkeypatch.setenv("PATHATLAS_ANSWERER", "py:no_such_package_s40.Answerer")
    assert load_settings().store == "py:no_such_package_s40.stores.Store"
    assert "no_such_package_s40" not in sys.modules


def test_the_registries_build_the_names_the_settings_take():
    from pathatlas.agent.answerers import ANSWERERS
    from pathatlas.retrieval.stores import STORES
    from pathatlas.settings import NAMES, PLUGIN

    assert [*STORES, PLUGIN] == list(NAMES["store"])
    assert [*ANSWERERS, PLUGIN] == list(NAMES["answerer"])


LIGHT = """
import json, sys
import pathatlas.settings
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("pathatlas.", "langchain", "numpy", "faiss")))))
"""


def test_the_settings_stay_light_to_import():
    run = subprocess.run([sys.executable, "-c", LIGHT], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(run.stdout) == ["pathatlas.settings", "pathatlas.tesseract"]


# 5. the store's description


def test_the_store_setting_says_an_index_keeps_its_own():
    description = Settings.model_fields["store"].description
    assert "faiss, qdrant, py:package.module.Class" in description
    assert "keeps the store it was built with" in description and "refused, naming both" in description


# 6. the web UI's variables are settings


def test_the_web_ui_variables_are_settings(monkeypatch):
    assert {"PATHATLAS_API_URL", "PATHATLAS_UI_READ_ONLY"} <= set(setting_variables())
    assert not {"PATHATLAS_API_URL", "PATHATLAS_UI_READ_ONLY"} & OTHER_VARIABLES
    assert unknown_variables({"PATHATLAS_API_URL": "http://a", "PATHATLAS_UI_READ_ONLY": "1"}) == []
    monkeypatch.setenv("PATHATLAS_UI_READ_ONLY", "maybe")
    with pytest.raises(BadInputError, match=r"^bad setting PATHATLAS_UI_READ_ONLY='maybe': Input should be a valid"):
        load_settings()


@contextmanager
def token_reader() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    """A stand-in REST API on loopback listing one source (``SOURCE``), its URL, and each request it met with the
    Authorization header it carried."""
    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            seen.append((f"{self.command} {self.path}", self.headers.get("Authorization")))
            answers = {"/facets": FACETS, "/sources": [SOURCE]}
            send_json(self, 200 if self.path in answers else 404, answers.get(self.path, {"detail": "not found"}))

        do_GET = do_POST = do_DELETE = answer

        def log_message(self, *args) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_web_ui_sends_the_token_as_the_server_reads_it(tmp_path):
    """The UI read PATHATLAS_API_TOKEN raw: a token ending in a newline (an env file, a mounted secret), which the
    server strips, was sent with it and never matched."""
    with token_reader() as (url, seen):
        run_app(REMOVE, tmp_path, PATHATLAS_API_URL=url, PATHATLAS_API_TOKEN=" s3cret\n")
    assert (f"DELETE /sources/{SOURCE['id']}", "Bearer s3cret") in seen, seen


def test_a_value_given_by_a_command_is_named_as_given_not_as_a_variable(monkeypatch):
    """``ask --answerer gpt`` was told "bad setting PATHATLAS_ANSWERER='gpt'", a variable nobody had set."""
    monkeypatch.delenv("PATHATLAS_ANSWERER", raising=False)
    with pytest.raises(BadInputError, match=r"^bad setting answerer='gpt': Value error, unknown answerer"):
        load_settings(answerer="gpt")
    monkeypatch.setenv("PATHATLAS_ANSWERER", "gpt")
    with pytest.raises(BadInputError, match=r"^bad setting PATHATLAS_ANSWERER='gpt'"):
        load_settings()


def test_settings_show_no_password_or_key_written_inside_a_url(monkeypatch):
    """A Qdrant password in its URL, an LLM gateway's key in its query: shown whole while secrets showed set/unset."""
    monkeypatch.setenv("PATHATLAS_QDRANT_URL", "https://admin:hunter2@qdrant.example:6333")
    monkeypatch.setenv("PATHATLAS_LLM_BASE_URL", "https://llm.example/v1?api-key=hunter3")
    shown = run_cli("settings", "--json")
    assert shown.exit_code == 0 and "hunter" not in shown.stdout, shown.output
    values = {row["variable"]: row["value"] for row in json.loads(shown.stdout)}
    assert values["PATHATLAS_QDRANT_URL"] == "https://***@qdrant.example:6333"
    assert values["PATHATLAS_LLM_BASE_URL"] == "https://llm.example/v1?***"


def test_ui_refuses_a_bad_api_url_in_one_line_before_starting_streamlit(monkeypatch):
    """The child Streamlit process refused it on its page, after the command had said nothing."""
    import subprocess

    def started(*args, **kwargs):
        raise AssertionError("Streamlit started")

    monkeypatch.setattr(subprocess, "Popen", started)
    one_error_line(
        run_cli("ui", "--api", "localhost:8000"), "api_url='localhost:8000'", "write 'http://localhost:8000'"
    )
