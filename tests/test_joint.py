"""The joint heads: save/load, the default encoder's joint space, and that training really learns."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pathatlas.corpora.demo import draw_pattern
from pathatlas.retrieval.datasets import is_validation
from pathatlas.retrieval.encoders.default import DefaultEncoder
from pathatlas.retrieval.encoders.joint_heads import HeadsConfig, JointHeads
from pathatlas.retrieval.encoders.training import TrainConfig, info_nce, train

PATTERN_TEXT = {
    "koilocytes": "koilocytes with perinuclear halos in cervical epithelium",
    "granuloma": "granuloma with a multinucleated giant cell",
    "glands": "adenocarcinoma forming crowded glands",
    "keratin-pearls": "squamous cell carcinoma with keratin pearls",
}


def write_shared_layout(root, per_pattern=6):
    """A miniature ../shared/data: figures, an atlas and a labels.csv, drawn from the demo patterns."""
    figures, atlas, tiles = root / "openstax_ap2e", root / "atlas", root / "lc25000"
    for folder in (figures / "images", atlas / "images", tiles / "t"):
        folder.mkdir(parents=True)
    fig_rows, case_rows, tile_rows = [], [], ["image,label,diagnosis"]
    for p, (pattern, text) in enumerate(PATTERN_TEXT.items()):
        for n in range(per_pattern):
            name = f"{pattern}-{n}.jpg"
            draw_pattern(pattern, 100 * p + n).save(figures / "images" / name)
            fig_rows.append(
                {
                    "figure_id": name,
                    "module": f"m{p}{n}",
                    "image": f"images/{name}",
                    "label": "F",
                    "title": pattern,
                    "caption": text,
                    "alt": None,
                    "pdf_page": p + 1,
                }
            )
            draw_pattern(pattern, 500 + 100 * p + n).save(atlas / "images" / name)
            case_rows.append({"image": f"images/{name}", "case": f"C{p}-{n // 2}", "diagnosis": pattern, "organ": "x"})
            draw_pattern(pattern, 900 + 100 * p + n).save(tiles / "t" / name)
            tile_rows.append(f"t/{name},{pattern},{pattern}")
    (figures / "figures.jsonl").write_text("\n".join(json.dumps(r) for r in fig_rows))
    (atlas / "cases.jsonl").write_text("\n".join(json.dumps(r) for r in case_rows))
    (tiles / "labels.csv").write_text("\n".join(tile_rows))
    return root


@pytest.fixture(scope="session")
def tiny_shared(tmp_path_factory):
    return write_shared_layout(tmp_path_factory.mktemp("shared") / "data")


def test_heads_save_load_roundtrip(tmp_path):
    heads = JointHeads(HeadsConfig(hidden=32))
    heads.save(tmp_path, "h")
    loaded = JointHeads.load(tmp_path, "h")
    features = torch.randn(3, 1280)
    assert torch.allclose(heads.eval().embed_images(features), loaded.embed_images(features))
    assert JointHeads.load(tmp_path, "absent") is None


def test_text_head_starts_as_identity():
    vectors = torch.nn.functional.normalize(torch.randn(4, 384), dim=-1)
    assert torch.allclose(JointHeads(HeadsConfig()).embed_texts(vectors), vectors, atol=1e-6)


def test_info_nce_prefers_matching_pairs():
    positives = torch.eye(3)
    good = info_nce(torch.eye(3) * 10, positives)
    bad = info_nce(torch.ones(3, 3), positives)
    assert good < bad


def test_validation_split_is_fixed_and_about_a_fifth():
    groups = [f"m{i}" for i in range(2000)]
    share = np.mean([is_validation(g) for g in groups])
    assert 0.17 < share < 0.23
    assert [is_validation(g) for g in groups[:50]] == [is_validation(g) for g in groups[:50]]


def test_training_learns_text_to_image(tiny_shared, settings, tmp_path):
    config = TrainConfig(epochs=40, batch_size=32, views=2, heads=HeadsConfig(hidden=128))
    summary = train(tiny_shared, settings, config, out=tmp_path / "weights")
    assert (tmp_path / "weights" / "pathatlas-joint-v1.safetensors").is_file()
    assert summary["train_items"]["textbook"] > 0
    heads = JointHeads.load(tmp_path / "weights")
    encoder = DefaultEncoder(settings, heads=heads)
    assert encoder.dims["joint"] == 384 and "joint" in encoder.image_spaces

    images = [draw_pattern(p, 7000 + i) for i, p in enumerate(PATTERN_TEXT)]  # unseen draws
    image_vectors = encoder.encode_image(images)["joint"]
    text_vectors = encoder.encode_text(list(PATTERN_TEXT.values()))["joint"]
    assert np.allclose(np.linalg.norm(image_vectors, axis=1), 1, atol=1e-5)
    hits = (text_vectors @ image_vectors.T).argmax(axis=1)
    assert (hits == np.arange(len(PATTERN_TEXT))).sum() >= 3, hits
