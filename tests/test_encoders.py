"""Encoders: the embedded default, a tiny random open_clip model loaded like a real one, the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pathatlas.corpora.demo import draw_pattern
from pathatlas.errors import BadInputError, UnknownNameError
from pathatlas.retrieval.encoders import Encoder, create_encoder

TINY_CLIP = {
    "embed_dim": 24,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="session")
def default_encoder(session_home):
    from pathatlas.settings import Settings

    return create_encoder("default", Settings(home=session_home))


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory):
    """A randomly initialised open_clip model saved the way hf-hub repos and local folders hold one."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY_CLIP)
    folder = tmp_path_factory.mktemp("tiny-clip")
    save_file(model.state_dict(), folder / "open_clip_model.safetensors")
    config = {"model_cfg": TINY_CLIP, "preprocess_cfg": {"mean": [0.5] * 3, "std": [0.25] * 3}}
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    return folder


def test_default_encoder_spaces_shapes_and_norms(default_encoder):
    assert default_encoder.dims == {"text": 384, "visual": 1280, "joint": 384}  # joint: the shipped heads
    texts = default_encoder.encode_text(["koilocytes", "granuloma", "adenocarcinoma"])
    images = default_encoder.encode_image([draw_pattern("glands", 1), draw_pattern("alveoli", 2)])
    assert texts["text"].shape == (3, 384) and texts["text"].dtype == np.float32
    assert images["visual"].shape == (2, 1280)
    assert texts["joint"].shape == (3, 384) and images["joint"].shape == (2, 384)
    for array in (texts["text"], images["visual"], texts["joint"], images["joint"]):
        assert np.allclose(np.linalg.norm(array, axis=1), 1.0, atol=1e-5)
    assert default_encoder.encode_text([])["text"].shape == (0, 384)
    assert set(default_encoder.encode_image([])) == {"visual", "joint"}


def test_default_text_space_is_semantic(default_encoder):
    passages = [
        "Koilocytes with perinuclear halos in HPV-infected cervical squamous epithelium.",
        "Diffuse large B-cell lymphoma effaces the lymph node architecture.",
    ]
    query = default_encoder.encode_text(["cervical HPV infection"])["text"]
    scores = query @ default_encoder.encode_text(passages)["text"].T
    assert scores[0, 0] > scores[0, 1] + 0.1


def test_default_visual_space_groups_same_pattern(default_encoder):
    images = [draw_pattern("glands", 11), draw_pattern("glands", 12), draw_pattern("small-blue-cells", 13)]
    v = default_encoder.encode_image(images)["visual"]
    assert v[0] @ v[1] > v[0] @ v[2]


def test_open_clip_local_dir_loads_and_encodes(tiny_clip_dir, settings):
    encoder = create_encoder(f"local-dir:{tiny_clip_dir}", settings)
    assert encoder.dims == {"joint": 24}
    assert encoder.text_spaces == encoder.image_spaces == ("joint",)
    text = encoder.encode_text(["granuloma", "koilocyte"])["joint"]
    image = encoder.encode_image([Image.new("RGB", (50, 40), (200, 100, 150))])["joint"]
    assert text.shape == (2, 24) and image.shape == (1, 24)
    assert np.allclose(np.linalg.norm(np.vstack([text, image]), axis=1), 1.0, atol=1e-5)
    # The weights on disk are the ones used: a second load gives identical vectors.
    from pathatlas.retrieval.encoders.open_clip_encoder import OpenClipEncoder

    again = OpenClipEncoder(f"local-dir:{tiny_clip_dir}", settings, "cpu").encode_text(["granuloma"])["joint"]
    assert np.allclose(again, text[:1], atol=1e-6)


@pytest.mark.parametrize(
    "name, error, message",
    [
        ("hf-hub:nobody/no-such-model", BadInputError, "cannot load encoder 'hf-hub:nobody/no-such-model'"),
        ("local-dir:/no/such/folder", BadInputError, "cannot load encoder"),
        ("st:/no/such/folder", BadInputError, "no model folder"),
        ("clip-vit-b", UnknownNameError, "unknown encoder 'clip-vit-b'"),
        ("py:pathatlas.retrieval.records.Hit", UnknownNameError, "not a Encoder subclass"),
    ],
)
def test_wrong_encoder_names_fail_fast_with_one_line(name, error, message, settings):
    with pytest.raises(error, match=message) as info:
        create_encoder(name, settings)
    assert "\n" not in str(info.value)


def test_plugin_encoder_by_dotted_path(settings):
    encoder = create_encoder("py:tests.test_encoders.HashEncoder", settings)
    assert isinstance(encoder, Encoder) and encoder.encode_text(["a"])["text"].shape == (1, 4)


class HashEncoder(Encoder):
    """A deterministic plug-in used to show that user encoders register by dotted path."""

    name = "py:tests.test_encoders.HashEncoder"
    dims = {"text": 4}
    text_spaces = ("text",)

    def __init__(self, settings):
        self.settings = settings

    def encode_text(self, texts):
        rows = np.array([[len(t), t.count("a") + 1, 1.0, 2.0] for t in texts], dtype=np.float32)
        return {"text": rows / np.linalg.norm(rows, axis=1, keepdims=True)}

    def encode_image(self, images):
        return {}
