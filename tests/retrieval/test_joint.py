"""The joint heads: save/load, the default encoder's joint space, and that training really learns."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pathatlas.corpora.demo import draw_pattern
from pathatlas.errors import BadInputError
from pathatlas.retrieval.datasets import is_validation, read_figures
from pathatlas.retrieval.encoders.default import DefaultEncoder
from pathatlas.retrieval.encoders.heads_config import heads_location, read_config
from pathatlas.retrieval.encoders.inference_heads import InferenceHeads
from pathatlas.retrieval.encoders.joint_heads import WEIGHTS_DIR, HeadsConfig, JointHeads
from pathatlas.retrieval.encoders.training import TrainConfig, info_nce, train
from pathatlas.settings import Settings

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


@pytest.mark.parametrize("hidden", [32, 0])
def test_saved_heads_encode_in_numpy_as_the_torch_module_does(tmp_path, hidden):
    """Training fits the torch module; encoding runs its saved weights in numpy (no torch import for a query)."""
    torch.manual_seed(hidden)
    heads = JointHeads(HeadsConfig(hidden=hidden))
    with torch.no_grad():  # a text head away from its identity start, and biases that matter
        for parameter in heads.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    heads.save(tmp_path, "h")
    loaded = InferenceHeads.load(tmp_path, "h")
    features, vectors = 3 * torch.randn(5, 1280), torch.randn(5, 384)
    with torch.no_grad():
        images, texts = heads.eval().embed_images(features).numpy(), heads.embed_texts(vectors).numpy()
    assert np.allclose(loaded.embed_images(features.numpy()), images, atol=1e-6)
    assert np.allclose(loaded.embed_texts(vectors.numpy()), texts, atol=1e-6)
    assert loaded.revision.startswith("h ") and InferenceHeads.load(tmp_path, "absent") is None


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
    config = TrainConfig(epochs=40, batch_size=32, heads=HeadsConfig(hidden=128))
    summary = train(tiny_shared, settings, config, out=tmp_path / "weights")
    assert (tmp_path / "weights" / "pathatlas-joint-v2.safetensors").is_file()
    assert summary["train_items"]["textbook"] > 0
    heads = InferenceHeads.load(tmp_path / "weights", "pathatlas-joint-v2")
    encoder = DefaultEncoder(settings, heads=heads)
    assert encoder.dims["joint"] == 384 and "joint" in encoder.image_spaces

    images = [draw_pattern(p, 7000 + i) for i, p in enumerate(PATTERN_TEXT)]  # unseen draws
    image_vectors = encoder.encode_image(images)["joint"]
    text_vectors = encoder.encode_text(list(PATTERN_TEXT.values()))["joint"]
    assert np.allclose(np.linalg.norm(image_vectors, axis=1), 1, atol=1e-5)
    hits = (text_vectors @ image_vectors.T).argmax(axis=1)
    assert (hits == np.arange(len(PATTERN_TEXT))).sum() >= 3, hits


def test_default_encoder_loads_heads_from_the_user_folder(tmp_path, session_home):
    from pathatlas.retrieval.encoders.towers import VISUAL

    torch.manual_seed(1)
    heads = JointHeads(HeadsConfig(hidden=16, joint_dim=8, image_recipe=VISUAL)).eval()
    heads.save(tmp_path / "mine", "my-heads")
    encoder = DefaultEncoder(Settings(home=session_home, joint_heads=tmp_path / "mine"))
    assert encoder.dims["joint"] == 8  # not the shipped 384-d heads
    image = draw_pattern("glands", 3)
    expected = heads.embed_images(torch.from_numpy(encoder.image_tower([image]))).detach().numpy()
    assert np.allclose(encoder.encode_image([image])["joint"], expected, atol=1e-5)


@pytest.mark.parametrize("problem", ["missing", "empty", "other-recipe"])
def test_bad_user_heads_fail_with_one_line(tmp_path, session_home, problem):
    folder = tmp_path / "heads"
    if problem != "missing":
        folder.mkdir()
    if problem == "other-recipe":  # e.g. pathatlas-joint-v1, trained on centre crops
        JointHeads(HeadsConfig(hidden=16, image_recipe="centre-crop")).save(folder, "old")
    with pytest.raises(BadInputError) as info:
        DefaultEncoder(Settings(home=session_home, joint_heads=folder))
    assert "\n" not in str(info.value) and ("train-joint" in str(info.value))


def test_v1_configs_read_as_centre_crop_heads(tmp_path):
    JointHeads(HeadsConfig(hidden=16)).save(tmp_path, "v1")
    config = json.loads((tmp_path / "v1.json").read_text())
    del config["image_recipe"]
    (tmp_path / "v1.json").write_text(json.dumps(config))
    assert read_config(tmp_path, "v1").image_recipe == "centre-crop"


def test_training_never_writes_into_the_package(tiny_shared, settings):
    before = sorted((p.name, p.stat().st_mtime_ns) for p in WEIGHTS_DIR.iterdir())
    with pytest.raises(BadInputError, match="inside the installed package"):
        train(tiny_shared, settings, TrainConfig(epochs=1), out=WEIGHTS_DIR)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in WEIGHTS_DIR.iterdir()) == before


def test_train_joint_command_writes_to_the_user_models_folder(tiny_shared, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pathatlas.ui.cli import app

    monkeypatch.setenv("PATHATLAS_HOME", str(tmp_path / "home"))
    before = sorted(p.name for p in WEIGHTS_DIR.iterdir())
    result = CliRunner().invoke(app, ["train-joint", "--data", str(tiny_shared), "--epochs", "2"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "home" / "models" / "pathatlas-joint-v2"
    assert {p.name for p in folder.iterdir()} == {
        "pathatlas-joint-v2.safetensors",
        "pathatlas-joint-v2.json",
        "training.json",
    }
    assert sorted(p.name for p in WEIGHTS_DIR.iterdir()) == before
    assert read_config(*heads_location(folder)).image_recipe == "whole+flips"


def test_figure_context_sentences_cite_the_label(tmp_path):
    rows = [
        {
            "figure_id": f"f{n}",
            "module": "m1",
            "image": f"images/f{n}.jpg",
            "label": label,
            "title": "T",
            "caption": "c",
        }
        for n, label in ((1, "Figure 1.1"), (10, "Figure 1.10"))
    ]
    (tmp_path / "figures.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    text = (
        "The heart has four chambers that pump blood (Figure 1.1).\n"
        "Figure 1.1. T: c\n"
        "Valves keep the blood flowing one way through the heart (Figure 1.10). Short (Figure 1.1)."
    )
    (tmp_path / "modules.jsonl").write_text(json.dumps({"module": "m1", "text": text}))
    with_context = {i.path.stem: i.texts for i in read_figures(tmp_path / "figures.jsonl", context=True)}
    assert with_context["f1"] == ["T: c", "The heart has four chambers that pump blood (Figure 1.1)."]
    assert with_context["f10"] == ["T: c", "Valves keep the blood flowing one way through the heart (Figure 1.10)."]
    assert [i.texts for i in read_figures(tmp_path / "figures.jsonl")] == [["T: c"], ["T: c"]]
