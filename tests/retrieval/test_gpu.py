"""The CUDA paths, where a GPU is (skipped elsewhere): ``auto`` picks it, and the default encoder and open_clip give
there the vectors they give on a CPU, so an index built on a GPU machine is searched and extended on a laptop."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pathatlas.retrieval.encoders import create_encoder, resolve_device
from pathatlas.settings import Settings

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

PASSAGES = [
    "Koilocytes with perinuclear halos in HPV-infected cervical squamous epithelium.",
    "Diffuse large B-cell lymphoma effaces the lymph node architecture. " * 40,  # over 256 word pieces: truncated
    "Caseating granulomas with Langhans giant cells.",
]


def images() -> list[Image.Image]:
    """Textures of several sizes, a greyscale one and a 3:1 panorama (cut into tiles by the recipe)."""
    rng = np.random.default_rng(0)
    sizes = [(300, 200), (224, 224), (640, 480), (96, 128), (672, 224)]
    coarse = [rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8) for w, h in sizes]
    textures = [Image.fromarray(pixels).resize(size) for pixels, size in zip(coarse, sizes, strict=True)]
    return [*textures, textures[0].convert("L")]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_auto_device_is_the_gpu(session_home):
    encoder = create_encoder("default", Settings(home=session_home, device="auto"))
    assert resolve_device("auto") == "cuda" and encoder.settings.device == "cuda"
    encoder.encode_text(["koilocytes"] * 64)  # a batch: torch runs it, on the GPU
    assert encoder.text_tower.model.weights["embeddings.word_embeddings.weight"].device.type == "cuda"


def test_default_encoder_on_the_gpu_gives_the_cpu_vectors(session_home):
    from pathatlas.retrieval.encoders.default import DefaultEncoder

    cpu = DefaultEncoder(Settings(home=session_home, device="cpu"))
    gpu = DefaultEncoder(Settings(home=session_home, device="cuda"))
    texts = PASSAGES * 22  # 66: over the query-sized batch, so torch runs it on each device
    for space in ("text", "joint"):
        assert np.allclose(gpu.encode_text(texts)[space], cpu.encode_text(texts)[space], atol=1e-5)
    on_gpu, on_cpu = gpu.encode_image(images()), cpu.encode_image(images())
    assert gpu.image_tower.session is None and next(gpu.image_tower.model.parameters()).is_cuda
    for space in ("visual", "joint"):  # convolutions in TF32 (torch's default on CUDA): an H200 gave >= 0.9997
        assert cosines(on_gpu[space], on_cpu[space]).min() > 0.999


def test_open_clip_on_the_gpu_gives_the_cpu_vectors(tiny_clip_dir, session_home):
    from pathatlas.retrieval.encoders.open_clip_encoder import OpenClipEncoder

    name = f"local-dir:{tiny_clip_dir}"
    cpu, gpu = (OpenClipEncoder(name, Settings(home=session_home, device=d), d) for d in ("cpu", "cuda"))
    assert next(gpu.model.parameters()).is_cuda
    assert cosines(gpu.encode_text(PASSAGES)["joint"], cpu.encode_text(PASSAGES)["joint"]).min() > 0.9999
    assert cosines(gpu.encode_image(images())["joint"], cpu.encode_image(images())["joint"]).min() > 0.999


def test_backbone_batches_of_any_size_run_in_one_shape(session_home, monkeypatch):
    """cuDNN picks kernels per input shape (about 2 s each on an H200): the backbone sees one batch size."""
    from pathatlas.retrieval.encoders.default import DefaultEncoder

    tower = DefaultEncoder(Settings(home=session_home, device="cuda")).image_tower
    extract, sizes = tower.model.extract_features, set()

    def recorded(batch):
        sizes.add(len(batch))
        return extract(batch)

    monkeypatch.setattr(tower.model, "extract_features", recorded)
    for count in (1, 2, 5, 13):
        assert tower(images()[:1] * count).shape == (count, 1280)
    assert len(sizes) == 1
