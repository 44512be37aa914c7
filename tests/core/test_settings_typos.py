"""Settings a user mistypes: a ``PATHATLAS_`` variable that is no setting is a warning on stderr (never on --json's
stdout), an empty store or encoder name is refused as an unknown one is, and a file given as the index is called a
file by ``index`` without paths too."""

from __future__ import annotations

import contextvars
import json

import pytest

from pathatlas.errors import BadInputError
from pathatlas.retrieval.encoders.hashing import HashingEncoder
from pathatlas.settings import Settings, setting_variables, unknown_variables
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.cli_common import refuse_file_index, settings_for
from tests.helpers import hashing_settings, indexed_lecture, one_error_line, run_cli

ENCODR = "warning: PATHATLAS_ENCODR is not a setting (did you mean PATHATLAS_ENCODER?)"
BM52 = "warning: PATHATLAS_WEIGHT_BM52 is not a setting (did you mean PATHATLAS_WEIGHT_BM25?)"


def test_every_setting_is_a_known_variable_and_a_typo_names_the_closest():
    assert {"PATHATLAS_ENCODER", "PATHATLAS_WEIGHT_BM25", "PATHATLAS_LOG_FORMAT"} <= set(setting_variables())
    assert unknown_variables(dict.fromkeys(setting_variables(), "")) == []
    assert unknown_variables({"pathatlas_encoder": "x", "PATH": "/bin", "PATHATLAS_API_URL": "x"}) == []
    assert unknown_variables({"PATHATLAS_TEST_STORES": "py:a.B", "PATHATLAS_ROOT_PATH": "/atlas"}) == []
    assert unknown_variables({"PATHATLAS_ENCODR": "x", "PATHATLAS_ZZQX": "1"}) == [
        ENCODR.removeprefix("warning: "),
        "PATHATLAS_ZZQX is not a setting",
    ]


def test_mistyped_variables_warn_on_stderr_and_json_stays_alone_on_stdout(tmp_path):
    root = indexed_lecture(tmp_path, "lecture.pdf", "Granulomas form in tuberculosis.")
    typos = {"PATHATLAS_ENCODR": "x", "PATHATLAS_WEIGHT_BM52": "3"}
    result = run_cli("info", "--index", root / "idx", "--json", home=root / "home", **typos)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["encoder"] == HashingEncoder.name
    assert result.stderr.splitlines() == [ENCODR, BM52]


def test_a_typo_is_said_once_however_often_a_command_reads_its_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATHATLAS_HOME", str(tmp_path))
    monkeypatch.setenv("PATHATLAS_ENCODR", "x")
    contextvars.Context().run(lambda: [settings_for(), settings_for(tmp_path / "other")])  # as a command starts
    assert capsys.readouterr().err.splitlines() == [ENCODR]


@pytest.mark.parametrize(
    ("option", "names"), [("--store", "faiss, qdrant, py:"), ("--encoder", "default, hf-hub:ORG/NAME, local-dir:")]
)
def test_an_empty_option_name_is_refused_before_an_index_is_made(tmp_path, option, names):
    pdf = make_pdf(tmp_path / "book.pdf", 1, "v1")
    for args in [(pdf,), ()]:  # with sources, and indexing again
        result = run_cli("index", *args, "--index", tmp_path / "idx", option, "", home=tmp_path / "home")
        assert one_error_line(result).startswith(f"error: {option} is empty: give one of {names}")
        assert not (tmp_path / "idx").exists()


@pytest.mark.parametrize(
    ("variable", "names"), [("PATHATLAS_STORE", "faiss, qdrant"), ("PATHATLAS_ENCODER", "default")]
)
def test_an_empty_variable_name_is_refused_naming_it(tmp_path, variable, names):
    pdf = make_pdf(tmp_path / "book.pdf", 1, "v1")
    result = run_cli("index", pdf, "--index", tmp_path / "idx", home=tmp_path / "home", **{variable: " "})
    one_error_line(result, f"bad setting {variable}=' '", f"empty; give one of {names}")
    assert not (tmp_path / "idx").exists()


def test_a_file_as_the_index_is_called_a_file(tmp_path):
    file = tmp_path / "notes.txt"
    file.write_text("not an index")
    with pytest.raises(BadInputError, match=f"^{file} is a file, not an index folder; give a folder with --index$"):
        refuse_file_index(hashing_settings(tmp_path, index=file))
    refuse_file_index(hashing_settings(tmp_path, index=tmp_path / "absent"))  # missing: another refusal's to say
    refuse_file_index(Settings(home=tmp_path, index=tmp_path))


def test_index_again_with_a_file_as_the_index_calls_it_a_file(tmp_path):
    file = tmp_path / "notes.txt"
    file.write_text("not an index")
    result = run_cli("index", "--index", file, home=tmp_path / "home")
    one_error_line(result, f"{file} is a file, not an index folder")
