"""On the CPU, texts too long for numpy (an ask's evidence passages) run on the model cache's fp32 ONNX export: the
vectors torch gives, without importing torch (seconds and half a gigabyte for a first ask). Where the cache cannot take
the export, torch still encodes them."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pathatlas.retrieval.encoders import onnx_cache
from pathatlas.retrieval.encoders.minilm import NUMPY_TOKENS, MiniLM, in_pieces
from pathatlas.retrieval.encoders.towers import extracted_minilm
from tests.conftest import shared_data

ASK_AND_REPORT = """
import sys
from pathatlas.retrieval.encoders.minilm import MiniLM
from pathatlas.ui.library import Atlas

stored_batches = []
encode = MiniLM.__call__

def recording(self, texts, batch_size=64, queries=False):
    if not queries:  # the first batch holds the longest texts, each padded to the longest
        padded = len(self.tokenizer.encode_batch(texts)[0].ids)
        stored_batches.append(min(len(texts), batch_size) * padded)
    return encode(self, texts, batch_size, queries)

MiniLM.__call__ = recording
atlas = Atlas(sys.argv[1], home=sys.argv[2])
atlas.ask("Which cells mark HPV infection of the cervix?", ["Koilocytes", "Goblet cells", "Plasma cells", "Mast cells"])
print(max(stored_batches, default=0), "torch" in sys.modules)
"""


def test_an_ask_encodes_its_evidence_without_importing_torch(demo_index, session_home):
    pytest.importorskip("onnxruntime")
    assert demo_index.encoder.text_tower.model.exports is not None  # indexing wrote them
    command = [sys.executable, "-c", ASK_AND_REPORT, str(demo_index.path), str(session_home)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    largest_batch, torch_loaded = done.stdout.split()
    assert int(largest_batch) > NUMPY_TOKENS, "the ask encoded a batch too long for numpy"
    assert torch_loaded == "False"


def book_passages(count: int) -> list[str]:
    """Book text in passages of 1,500 characters: about 300 tokens, truncated to the model's 256 as chunks are."""
    with shared_data("openstax_ap2e/modules.jsonl").open() as lines:
        texts = [json.loads(line)["text"] for line in lines]
    passages = [text[start : start + 1500] for text in texts[10:] for start in range(0, len(text) - 1500, 4000)]
    return passages[:count]


def test_long_texts_on_the_fp32_export_get_torchs_vectors(session_home):
    pytest.importorskip("onnxruntime")
    passages = book_passages(50)
    assert len(passages) == 50
    folder = extracted_minilm(session_home / "cache")
    exported = MiniLM(folder, onnx_dir=session_home / "cache")
    vectors = exported(passages)
    assert exported.exact_session is not None
    in_torch = MiniLM(folder)(passages)  # no model cache: torch runs long batches
    assert np.abs(vectors - in_torch).max() < 1e-5


def test_a_model_cache_that_cannot_be_written_leaves_long_texts_exact_in_torch(session_home, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")

    def read_only(target, write):
        raise PermissionError(13, "Read-only file system", str(target))

    monkeypatch.setattr(onnx_cache, "write_once", read_only)
    folder = extracted_minilm(session_home / "cache")
    model = MiniLM(folder, onnx_dir=tmp_path / "read-only")
    texts = ["granuloma with giant cells " * 40, "koilocytes in cervical epithelium " * 30]
    vectors = model(texts)
    assert model.exact_session is None
    assert np.array_equal(vectors, MiniLM(folder)(texts))


def test_each_piece_is_cut_to_its_longest_text():
    lengths = [6, 5, 5, 2, 1]
    mask = np.array([[1] * n + [0] * (6 - n) for n in lengths])
    ids = mask * np.arange(1, 7)
    shapes = []

    def run(piece_ids: np.ndarray, piece_mask: np.ndarray) -> np.ndarray:
        shapes.append(piece_ids.shape)
        assert piece_mask.shape == piece_ids.shape
        return piece_ids.sum(1, keepdims=True)

    summed = in_pieces(run, ids, mask, size=2)
    assert shapes == [(2, 6), (2, 5), (1, 1)]
    assert summed[:, 0].tolist() == ids.sum(1).tolist()
