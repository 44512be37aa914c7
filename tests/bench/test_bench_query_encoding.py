"""A researcher's first hour with ``pathatlas bench``: the same command gives the same figures whatever the model
cache held before it, and an ``--index`` no task reads is said to be unread rather than silently measured past."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pathatlas.retrieval.bench.common import EIGHT_BIT_QUERIES, settle_query_vectors
from pathatlas.retrieval.encoders import create_encoder
from tests.bench.test_bench_own_data import question
from tests.helpers import indexed_book, run_cli
from tests.indexer.test_incremental_cases import ENCODER
from tests.retrieval.test_joint import write_shared_layout

pytestmark = pytest.mark.filterwarnings("ignore:unsafe cast")  # ranx's numba kernels on a few queries


SETTLE_IN_A_FRESH_PROCESS = """
import sys
from pathlib import Path
from pathatlas.retrieval.bench.common import settle_query_vectors
from pathatlas.retrieval.encoders import create_encoder
from pathatlas.retrieval.encoders.minilm import quantised_path
from pathatlas.settings import Settings

home = Path(sys.argv[1])
encoder = create_encoder("default", Settings(home=home, index=home / "index"))
before = quantised_path(encoder.text_tower.model.export).is_file(), "torch" in sys.modules
print(before, settle_query_vectors(encoder))
"""


def test_text_queries_take_the_8_bit_path_search_takes_after_indexing_even_on_a_fresh_cache(tmp_path):
    """On a fresh PATHATLAS_HOME a process that never loaded torch encoded its queries exactly, and by the 8-bit export
    once some torch process had written it: a question of 20 dev questions went from rank 9 to 11 between two runs of
    the same command. A fresh process, as a benchmark starts (pytest's has torch loaded, which writes the export)."""
    pytest.importorskip("onnxruntime")
    done = subprocess.run(
        [sys.executable, "-c", SETTLE_IN_A_FRESH_PROCESS, str(tmp_path / "home")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[0] == f"(False, False) {EIGHT_BIT_QUERIES}"  # no export nor torch before: now 8-bit


def test_an_encoder_without_pathatlas_minilm_is_left_as_it_is(fast):
    assert settle_query_vectors(create_encoder(fast.encoder, fast)) is None


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return indexed_book(tmp_path_factory.mktemp("first-hour-book"))


def test_the_run_records_how_text_queries_were_encoded(book, tmp_path):
    questions = tmp_path / "mcq.jsonl"
    questions.write_text(json.dumps(question(0, gold={"pdf_pages": [1, 1]}, chapter="one")))
    args = ["bench", "retrieval", "--mcq", questions, "--index", book / "idx", "--json", "-"]
    result = run_cli(*args, home=book / "home")
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)["run"]
    assert "query_vectors" in run and run["query_vectors"] is None  # the hashing encoder's queries are its own


@pytest.fixture(scope="module")
def case_folder(tmp_path_factory) -> Path:
    return write_shared_layout(tmp_path_factory.mktemp("first-hour-cases"), per_pattern=4) / "atlas"


def test_an_index_that_image_tasks_alone_never_read_is_said_unread(case_folder, tmp_path):
    """``--figures ... --index ~/cases-index``: the images are encoded from the file by PATHATLAS_ENCODER and the index
    never opened, so a missing index, or one of another encoder, would go unnoticed but for the note."""
    figures = case_folder.parent / "openstax_ap2e" / "figures.jsonl"
    args = ["bench", "retrieval", "--figures", figures, "--split", "all", "--json", "-"]
    result = run_cli(*args, "--index", tmp_path / "no-such-index", home=tmp_path / "home", PATHATLAS_ENCODER=ENCODER)
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "note: --index: not read: --figures encodes its file's own images" in said
    assert "text_to_image" in json.loads(result.stdout)["tasks"]  # stdout stays the JSON alone

    plain = run_cli(*args, home=tmp_path / "home", PATHATLAS_ENCODER=ENCODER)
    assert plain.exit_code == 0 and "--index" not in plain.stderr
