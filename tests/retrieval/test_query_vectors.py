"""A query's vector, and so its hits, depend on the query and the index alone: not on which queries shared its batch
in a busy service, nor on which index the process opened first."""

from __future__ import annotations

import numpy as np

from pathatlas.retrieval.encoders import create_encoder
from pathatlas.settings import Settings


def test_a_query_vector_does_not_depend_on_its_batch_mates(session_home):
    from pathatlas.retrieval.encoders.minilm import MiniLM
    from pathatlas.retrieval.encoders.towers import extracted_minilm

    model = MiniLM(extracted_minilm(session_home / "cache"), onnx_dir=session_home / "cache")
    model.write_export()
    assert model.query_session is not None  # the 8-bit export, whose activation scales are per batch
    alone = model(["colon adenocarcinoma"], queries=True)
    busy = model(["colon adenocarcinoma", "koilocytes in cervical epithelium", "granuloma " * 40], queries=True)
    assert np.array_equal(busy[0], alone[0])


def test_indexes_on_different_model_caches_get_their_own_encoder(tmp_path):
    first = create_encoder("default", Settings(home=tmp_path / "a", index=tmp_path / "one"))
    assert create_encoder("default", Settings(home=tmp_path / "a", index=tmp_path / "two")) is first
    other = create_encoder("default", Settings(home=tmp_path / "b", index=tmp_path / "one"))
    assert other is not first and other.settings.cache_dir == tmp_path / "b" / "cache"
