"""A text query is encoded one way whatever the model cache held before: a first search on a machine where nothing
was indexed (an index copied in, a fresh PATHATLAS_HOME) ran exactly in numpy, every later one on the 8-bit export
some indexing run had written, so the same search ranked a little otherwise before and after. A model cache that
cannot be written leaves each model on its exact path rather than failing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ENCODE_A_QUERY = """
import sys
from pathlib import Path
import numpy as np
from pathatlas.retrieval.encoders import create_encoder
from pathatlas.settings import Settings

home = Path(sys.argv[1])
encoder = create_encoder("default", Settings(home=home, index=home / "index"))
if sys.argv[3] == "index first":  # pages enough to run in torch, as indexing runs
    encoder.encode_text(["bone " * 300] * 2)
vector = encoder.encode_query(["Which cells resorb bone?"])["text"]
np.save(sys.argv[2], vector)
print(sorted({"torch", "torchvision"} & set(sys.modules)))
"""


def encoded_in_a_fresh_process(home: Path, out: Path, first: str = "search only") -> tuple[np.ndarray, str]:
    command = [sys.executable, "-c", ENCODE_A_QUERY, str(home), str(out), first]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return np.load(out), done.stdout.strip()


def test_the_first_query_on_a_fresh_model_cache_is_encoded_as_every_later_one(tmp_path):
    pytest.importorskip("onnxruntime")
    home = tmp_path / "home"
    first, first_loaded = encoded_in_a_fresh_process(home, tmp_path / "first.npy")
    after_indexing, _ = encoded_in_a_fresh_process(home, tmp_path / "after.npy", "index first")
    later, later_loaded = encoded_in_a_fresh_process(home, tmp_path / "later.npy")
    assert np.array_equal(first, after_indexing) and np.array_equal(first, later)
    assert first_loaded == "['torch']", "the first search wrote the 8-bit export, importing torch that once"
    assert later_loaded == "[]", "later searches find the export and never import torch"


QUERY_ON_A_READ_ONLY_CACHE = """
import sys
from pathlib import Path
import numpy as np
from pathatlas.retrieval.encoders import onnx_cache
from pathatlas.retrieval.encoders.minilm import MiniLM
from pathatlas.retrieval.encoders.towers import extracted_minilm

def read_only(target, write):
    raise PermissionError(13, "Read-only file system", str(target))

onnx_cache.write_once = read_only
model = MiniLM(extracted_minilm(Path(sys.argv[1])), onnx_dir=Path(sys.argv[2]))
query = ["koilocytes in cervical epithelium"]
encoded = model.tokenizer.encode_batch(query)
ids, mask = (np.array([getattr(e, field) for e in encoded]) for field in ("ids", "attention_mask"))
print(np.array_equal(model(query, queries=True), model._embed_numpy(ids, mask)), model.query_session is None)
print(sorted({"torch", "torchvision"} & set(sys.modules)))
"""


def test_a_model_cache_that_cannot_be_written_leaves_text_queries_exact_without_torch(session_home, tmp_path):
    """A read-only model cache (a container's image) held the model but no export: writing one there must not fail
    every text search, nor cost each search process a torch import before it finds it cannot write."""
    pytest.importorskip("onnxruntime")
    command = [sys.executable, "-c", QUERY_ON_A_READ_ONLY_CACHE, str(session_home / "cache"), str(tmp_path / "ro")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["True True", "[]"]
    assert "text queries run exactly in numpy" in done.stderr


def test_a_model_cache_that_cannot_be_written_leaves_the_image_backbone_in_torch_not_failing(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from PIL import Image

    from pathatlas.retrieval.encoders import onnx_cache
    from pathatlas.retrieval.encoders.towers import EfficientNetTower, ImageRecipe

    def read_only(target, write):
        raise PermissionError(13, "Read-only file system", str(target))

    monkeypatch.setattr(onnx_cache, "write_once", read_only)
    tower = EfficientNetTower("cpu", ImageRecipe(), tmp_path / "read-only")
    assert tower.session is None
    assert tower([Image.new("RGB", (64, 48), (180, 90, 120))]).shape == (1, 1280)
