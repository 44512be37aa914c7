"""Encoders: the embedded default, a tiny random open_clip model loaded like a real one, the registry."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from pathatlas.corpora.demo import draw_pattern
from pathatlas.errors import BadInputError, UnknownNameError
from pathatlas.retrieval.encoders import Encoder, create_encoder


@pytest.fixture(scope="session")
def default_encoder(session_home):
    from pathatlas.settings import Settings

    return create_encoder("default", Settings(home=session_home))


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
        ("py:pathatlas.retrieval.records.Hit", UnknownNameError, "not an Encoder subclass"),
    ],
)
def test_wrong_encoder_names_fail_fast_with_one_line(name, error, message, settings):
    with pytest.raises(error, match=message) as info:
        create_encoder(name, settings)
    assert "\n" not in str(info.value)


def test_plugin_encoder_by_dotted_path(settings):
    encoder = create_encoder("py:tests.retrieval.test_encoders.HashEncoder", settings)
    assert isinstance(encoder, Encoder) and encoder.encode_text(["a"])["text"].shape == (1, 4)


class HashEncoder(Encoder):
    """A deterministic plug-in used to show that user encoders register by dotted path."""

    name = "py:tests.retrieval.test_encoders.HashEncoder"
    dims = {"text": 4}
    text_spaces = ("text",)

    def __init__(self, settings):
        self.settings = settings

    def encode_text(self, texts):
        rows = np.array([[len(t), t.count("a") + 1, 1.0, 2.0] for t in texts], dtype=np.float32)
        return {"text": rows / np.linalg.norm(rows, axis=1, keepdims=True)}

    def encode_image(self, images):
        return {}


def wide_slide(edge_colour):
    """A 3:1 slide screenshot: a pattern in the middle third and a solid block filling the left third."""
    canvas = Image.new("RGB", (672, 224), (245, 245, 245))
    canvas.paste(draw_pattern("glands", 5).resize((224, 224)), (224, 0))
    canvas.paste(Image.new("RGB", (224, 224), edge_colour), (0, 0))
    return canvas


@pytest.fixture(scope="session")
def centre_crop_tower():
    from pathatlas.retrieval.encoders.towers import RECIPES, EfficientNetTower

    return EfficientNetTower("cpu", RECIPES["centre-crop"])


def test_visual_features_see_the_whole_image(default_encoder, centre_crop_tower):
    blue, red = wide_slide((30, 40, 200)), wide_slide((200, 40, 30))
    visual = default_encoder.image_tower([blue, red])
    cropped = centre_crop_tower([blue, red])
    # The centre crop never sees the left third: its features cannot tell the two apart; ``visual`` does.
    assert np.allclose(cropped[0], cropped[1], atol=1e-5)
    assert np.linalg.norm(visual[0] - visual[1]) > 0.05 * np.linalg.norm(visual[0])


def test_image_passes_keep_the_whole_image_and_are_deterministic():
    from pathatlas.retrieval.encoders.towers import ImagePass

    image = wide_slide((30, 40, 200))
    squashed = ImagePass().images(image)[0]
    assert squashed.size == (224, 224) and np.asarray(squashed)[112, 10, 2] > 150  # the blue left edge survives
    padded = ImagePass("pad").images(image)[0]
    assert padded.size == (224, 224) and np.asarray(padded)[112, 10, 2] > 150
    assert ImagePass("crop").images(image)[0].getpixel((10, 112)) != padded.getpixel((10, 112))
    tiles = ImagePass("tiles").images(image)
    assert [t.size for t in tiles] == [(224, 224)] * 4
    whole = np.asarray(image.resize((448, 448), Image.BICUBIC))
    assert np.array_equal(np.asarray(tiles[3]), whole[224:, 224:])
    mirrored = ImagePass(flip="h").images(image)[0]
    assert np.array_equal(np.asarray(mirrored), np.asarray(squashed)[:, ::-1])
    flipped = ImagePass(flip="v").images(image)[0]
    assert np.array_equal(np.asarray(flipped), np.asarray(squashed)[::-1])
    aspect = ImagePass("aspect").images(image)[0]
    assert aspect.size == (448, 149)  # longer side capped at twice 224, ratio kept


def test_visual_recipe_is_the_mean_of_its_passes_and_deterministic(default_encoder):
    tower = default_encoder.image_tower
    images = [draw_pattern("koilocytes", 3), wide_slide((30, 40, 200))]
    first, again = tower(images), tower(images)
    assert np.array_equal(first, again)
    passes = [tower.pass_features([i.convert("RGB") for i in images], p) for p in tower.recipe.passes]
    assert len(passes) > 1 and np.allclose(first, np.mean(passes, axis=0), atol=1e-5)


def test_feature_cache_encodes_each_file_once_and_notices_changes(tmp_path, default_encoder):
    from pathatlas.retrieval.encoders.features import cache_file, recipe_views
    from pathatlas.retrieval.encoders.towers import RECIPES, VISUAL
    from pathatlas.settings import Settings

    settings = Settings(home=tmp_path / "home")
    paths = []
    for n, pattern in enumerate(("glands", "koilocytes")):
        paths.append(tmp_path / f"{pattern}.png")
        draw_pattern(pattern, n).save(paths[-1])
    views = recipe_views(paths, VISUAL, settings)
    assert views.shape == (2, len(RECIPES[VISUAL].passes), 1280)
    # View means are exactly what the encoder's tower computes for the same files.
    assert np.allclose(views.mean(axis=1), default_encoder.image_tower([Image.open(p) for p in paths]), atol=1e-4)
    store = cache_file(settings, RECIPES[VISUAL].passes[0], RECIPES[VISUAL])
    stamp = store.stat().st_mtime_ns
    assert np.array_equal(recipe_views(paths[::-1], VISUAL, settings), views[::-1])  # served from the cache
    assert store.stat().st_mtime_ns == stamp
    draw_pattern("small-blue-cells", 9).save(paths[0])  # the file changed: encoded again
    changed = recipe_views(paths, VISUAL, settings)
    assert not np.allclose(changed[0], views[0]) and np.array_equal(changed[1], views[1])


def test_tta_average_is_a_pure_mean_of_passes():
    from pathatlas.retrieval.encoders.towers import average_passes

    per_pass = np.random.default_rng(0).normal(size=(3, 4, 8)).astype(np.float64)
    before = per_pass.copy()
    out = average_passes(per_pass)
    assert out.dtype == np.float32 and out.shape == (4, 8)
    assert np.allclose(out, per_pass.mean(axis=0)) and np.array_equal(per_pass, before)  # input untouched
    assert np.allclose(average_passes(per_pass[::-1]), out, atol=1e-6)  # the order of passes does not matter
    assert np.array_equal(average_passes(per_pass), out)


def test_orientations_turn_the_resized_image():
    from pathatlas.retrieval.encoders.towers import ImagePass

    image = wide_slide((30, 40, 200))
    squashed = np.asarray(ImagePass().images(image)[0])
    assert np.array_equal(np.asarray(ImagePass(flip="r90").images(image)[0]), np.rot90(squashed))
    assert np.array_equal(np.asarray(ImagePass(flip="t").images(image)[0]), squashed.transpose(1, 0, 2))
    with pytest.raises(KeyError):
        ImagePass(flip="sideways").images(image)


def test_onnx_backbone_gives_the_torch_features(default_encoder):
    from pathatlas.retrieval.encoders.towers import EfficientNetTower

    onnx_tower = default_encoder.image_tower
    assert onnx_tower.session is not None  # on a CPU with a cache folder the backbone runs in ONNX Runtime
    torch_tower = EfficientNetTower("cpu", onnx_tower.recipe)
    images = [draw_pattern("glands", 21), wide_slide((200, 40, 30))]
    fast, reference = onnx_tower(images), torch_tower(images)
    assert np.allclose(fast, reference, rtol=1e-3, atol=1e-3 * np.abs(reference).max())
    assert not np.allclose(fast[0], fast[1], atol=1e-2)


def test_an_exported_backbone_runs_without_loading_torch_weights_or_printing(default_encoder, capfd):
    from pathatlas.retrieval.encoders.towers import EfficientNetTower

    default_encoder.image_tower([draw_pattern("glands", 21)])  # exports the ONNX file once, if not yet there
    capfd.readouterr()
    tower = EfficientNetTower("cpu", default_encoder.image_tower.recipe, default_encoder.settings.cache_dir)
    tower([draw_pattern("glands", 22)])
    assert "model" not in tower.__dict__, "the ONNX file was there: the torch backbone is not loaded (0.3 s)"
    loaded = EfficientNetTower("cpu", tower.recipe).model  # torch runs it: loaded, and quietly (stdout is --json's)
    assert loaded.training is False and capfd.readouterr().out == ""


def test_backbone_inputs_are_torchvisions_to_the_bit():
    """The first image query of a process took 11-15 s, nearly all of it importing torchvision (and the compiler
    it pulls in) for ToTensor + Normalize."""
    from torchvision import transforms

    from pathatlas.retrieval.encoders.towers import NORMALISATIONS, pixels

    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8))
    for mean, std in NORMALISATIONS.values():
        reference = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])(image).numpy()
        ours = pixels(image, np.array(mean, dtype=np.float32), np.array(std, dtype=np.float32))
        assert ours.shape == reference.shape and np.array_equal(ours, reference)


def test_an_image_query_imports_neither_torch_nor_torchvision(default_encoder, session_home):
    """Once the backbone's ONNX export is cached, an image query (backbone, pooling, the average of passes, the joint
    heads) runs in ONNX Runtime and numpy: importing torch cost 3-6 s of every first image query."""
    default_encoder.image_tower([draw_pattern("glands", 1)])  # exports the ONNX file once, if not yet there
    probe = (
        "import sys; from pathatlas.corpora.demo import draw_pattern; from pathatlas.settings import Settings; "
        "from pathatlas.retrieval.encoders import create_encoder; "
        f"encoder = create_encoder('default', Settings(home={str(session_home)!r})); "
        "vectors = encoder.encode_image([draw_pattern('glands', 1)]); "
        "assert sorted(vectors) == ['joint', 'visual'] and encoder.image_tower.session is not None; "
        "loaded = sorted({'torch', 'torchvision'} & set(sys.modules)); "
        "assert not loaded, f'an image query imported {loaded}'"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-500:]


def test_gem_pooling_weighs_strong_local_responses():
    from pathatlas.retrieval.encoders.towers import pool

    maps = np.zeros((1, 2, 2, 2), dtype=np.float32)
    maps[0, 0] = 1.0
    maps[0, 1, 1, 1] = 8.0  # one strong response among three silent (and clamped) places
    assert np.allclose(pool(maps, "mean"), [[1.0, 2.0]])
    assert np.allclose(pool(maps, "gem"), [[1.0, (8.0**3 / 4) ** (1 / 3)]], rtol=1e-6)


def test_index_records_the_image_recipe_and_refuses_another(settings, tmp_path):
    from pathatlas.errors import EncoderMismatchError
    from pathatlas.retrieval.encoders.towers import VISUAL
    from pathatlas.retrieval.index import META_FILE, Index

    folder = tmp_path / "index"
    Index.open(folder, settings, create=True)
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["revisions"]["visual"] == f"efficientnet-lite0 {VISUAL}"
    meta["revisions"]["visual"] = "efficientnet-lite0 centre-crop"  # as if built with the old recipe
    (folder / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(EncoderMismatchError, match="visual: 'efficientnet-lite0 centre-crop'") as info:
        _ = Index.open(folder, settings).encoder
    assert "\n" not in str(info.value)


CACHE_WRITER = """
import sys, time
from pathlib import Path
from pathatlas.retrieval.encoders.onnx_cache import write_once
target, me, other = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
me.touch()
while not other.exists():  # both processes reach write_once together
    time.sleep(0.01)
def write(staging):
    side = target.with_name("model-inferred.onnx")  # one fixed name beside it, as onnxruntime's quantiser writes
    side.write_text("x"); time.sleep(0.5); staging.write_text(side.read_text()); side.unlink()
write_once(target, write)
"""


def test_two_processes_on_a_fresh_model_cache_write_its_file_in_turn(tmp_path):
    """``serve`` and ``index`` started together on a fresh home both exported and quantised the text model, and the
    quantiser's fixed side file, deleted by one, failed the other (FileNotFoundError); now the second waits and
    finds the file written."""
    target, ready = tmp_path / "model-int8.onnx", [tmp_path / "a.ready", tmp_path / "b.ready"]
    runs = [
        subprocess.Popen([sys.executable, "-c", CACHE_WRITER, target, me, other], stderr=subprocess.PIPE, text=True)
        for me, other in (ready, ready[::-1])
    ]
    errors = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    assert target.read_text() == "x"


def meet_in_pairs(work):
    """``work`` that returns only once a second thread is in it too (a serial caller stalls, then fails)."""
    pair = threading.Barrier(2, timeout=20)

    def met(*args):
        pair.wait()
        return work(*args)

    return met


def test_default_encoder_prepares_images_on_several_cores(default_encoder, monkeypatch):
    """Decoding, resizing and normalising run on the cores a model call may use (on a GPU they are the whole wait),
    and the features are those of one image at a time."""
    from pathatlas.retrieval.encoders.towers import EfficientNetTower

    images = [draw_pattern(pattern, n) for n, pattern in enumerate(("glands", "koilocytes", "alveoli", "glands"))]
    alone = np.vstack([default_encoder.image_tower([image]) for image in images])
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setattr(EfficientNetTower, "prepared", meet_in_pairs(EfficientNetTower.prepared))
    assert np.allclose(default_encoder.image_tower(images), alone, atol=1e-5)


def test_open_clip_prepares_images_on_several_cores(tiny_clip_dir, settings, monkeypatch):
    from pathatlas.retrieval.encoders.open_clip_encoder import OpenClipEncoder

    encoder = OpenClipEncoder(f"local-dir:{tiny_clip_dir}", settings, "cpu")
    images = [draw_pattern(pattern, n) for n, pattern in enumerate(("glands", "koilocytes"))]
    alone = np.vstack([encoder.encode_image([image])["joint"] for image in images])
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setattr(encoder, "preprocess", meet_in_pairs(encoder.preprocess))
    assert np.allclose(encoder.encode_image(images)["joint"], alone, atol=1e-5)


def test_in_fixed_chunks_runs_one_shape_and_drops_the_padding():
    import torch

    from pathatlas.retrieval.encoders.base import in_fixed_chunks

    shapes = []

    def doubled(batch):
        shapes.append(tuple(batch.shape))
        return batch * 2

    batch = torch.arange(15.0).reshape(5, 3)
    assert torch.equal(in_fixed_chunks(doubled, batch, 2), batch * 2)
    assert shapes == [(2, 3)] * 3
