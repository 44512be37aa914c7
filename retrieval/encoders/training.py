"""Train joint heads from ../shared/data: ``pathatlas train-joint`` (how pathatlas-joint-v2 was made).

Frozen features are computed once (EfficientNet-Lite0 on each image, each pass of the ``visual`` recipe a
view; MiniLM on each description) and cached, so training the heads takes seconds to minutes on two CPU
cores. Validation groups (whole textbook modules, whole atlas cases, a fifth of LC25000 tiles) are never
trained on. Output goes to a user folder (``<home>/models/<name>/`` by default), never into the package;
shipping a new set is a deliberate copy into ``weights/`` (MODEL_CARD.md).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

import pathatlas
from pathatlas.errors import BadInputError
from pathatlas.retrieval.datasets import ImageItem, is_validation, read_cases, read_figures
from pathatlas.retrieval.encoders.features import recipe_views, save_atomically
from pathatlas.retrieval.encoders.joint_heads import MODEL_NAME, HeadsConfig, JointHeads
from pathatlas.retrieval.encoders.towers import MINILM_DIM, MiniLMTower
from pathatlas.retrieval.progress import progress
from pathatlas.settings import Settings

PACKAGE_DIRS = (Path(pathatlas.__file__).resolve().parent, Path(__file__).resolve().parents[1])
"""The installed package: ``pathatlas`` and ``pathatlas.retrieval`` (separate folders in a source checkout)."""


@dataclass
class TrainConfig:
    seed: int = 0
    epochs: int = 60
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.3
    image_image_weight: float = 0.5
    """Weight of the loss that pulls together images of one group (same case, same figure, same tile label)."""
    context: bool = True
    """Also use the module sentences that cite a figure as its descriptions (``read_figures(context=True)``)."""
    train_text_head: bool = True
    """False keeps the text head at identity: the joint space is MiniLM's, only images move into it."""
    extra_views: tuple[str, ...] = ()
    """Other ``towers.RECIPES`` whose passes serve as augmented views of each image."""
    heads: HeadsConfig = field(default_factory=HeadsConfig)


def load_items(data: Path, context: bool = True) -> dict[str, list[ImageItem]]:
    readers = {
        "textbook": ("openstax_ap2e/figures.jsonl", lambda path: read_figures(path, context=context)),
        "atlas": ("atlas/cases.jsonl", read_cases),
        "lc25000": ("lc25000/labels.csv", read_cases),
    }
    return {name: reader(data / rel) for name, (rel, reader) in readers.items() if (data / rel).exists()}


def image_features(items: list[ImageItem], recipe: str, settings: Settings, extra: tuple[str, ...] = ()) -> np.ndarray:
    """(n, views, 1280) frozen features: view 0 is exactly what the encoder computes at search time (the
    recipe's mean over its passes), then each pass on its own, then the passes of the ``extra`` recipes
    (other geometries and flips of the same image: augmentations that cost no extra encoding once cached)."""
    paths = [i.path for i in items]
    passes = recipe_views(paths, recipe, settings)
    others = [recipe_views(paths, name, settings) for name in extra]
    return np.concatenate([passes.mean(axis=1, keepdims=True), passes, *others], axis=1)


def sentence_vectors(texts: list[str], settings: Settings) -> np.ndarray:
    """MiniLM vectors of descriptions, cached per text like the image features (only new texts are encoded)."""
    path = settings.cache_dir / "joint-texts.npz"
    keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
    cached: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path) as stored:
            cached = dict(zip(stored["keys"].tolist(), stored["features"], strict=True))
    missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in cached}
    if missing:
        vectors = MiniLMTower(settings.cache_dir, settings.device)(list(missing.values()), batch_size=64)
        cached.update(zip(missing, vectors, strict=True))
        save_atomically(path, cached)
    return np.stack([cached[k] for k in keys]) if keys else np.zeros((0, MINILM_DIM), dtype=np.float32)


def info_nce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against every positive (multi-positive InfoNCE), rows with none are skipped."""
    log_probs = logits.log_softmax(dim=-1)
    counts = positives.sum(dim=-1)
    keep = counts > 0
    return -((log_probs * positives).sum(dim=-1)[keep] / counts[keep]).mean()


def train(data: Path, settings: Settings, config: TrainConfig, out: Path, name: str = MODEL_NAME) -> dict:
    """Train heads on the training part of ``data`` and save them as ``out/<name>.*`` with ``training.json``."""
    if any(out.resolve().is_relative_to(folder) for folder in PACKAGE_DIRS):
        raise BadInputError(f"--out {out} is inside the installed package; train into a user folder")
    started = time.perf_counter()
    by_dataset = load_items(data, config.context)
    items = [i for group in by_dataset.values() for i in group if i.texts and not is_validation(i.group)]
    heads, history = fit(items, settings, config)
    heads.save(out, name)
    summary = {
        "name": name,
        "train_items": {
            part: sum(1 for i in group if i.texts and not is_validation(i.group)) for part, group in by_dataset.items()
        },
        "texts": len({t for i in items for t in i.texts}),
        "final_loss": round(float(np.mean(history[-10:])), 4),
        "seconds": round(time.perf_counter() - started, 1),
        "config": asdict(config),
    }
    (out / "training.json").write_text(json.dumps(summary, indent=2))
    return summary


def fit(items: list[ImageItem], settings: Settings, config: TrainConfig) -> tuple[JointHeads, list[float]]:
    """Heads trained on these items (frozen features, cached), with the per-step loss history."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    features = torch.from_numpy(image_features(items, config.heads.image_recipe, settings, config.extra_views))
    views = features.shape[1]
    texts = sorted({t for i in items for t in i.texts})
    text_index = {t: n for n, t in enumerate(texts)}
    text_vectors = torch.from_numpy(sentence_vectors(texts, settings))
    item_texts = [[text_index[t] for t in i.texts] for i in items]
    # Images are one "class" per group for image-image positives; texts are positives when identical, or
    # when both images carry the same label (diagnosis); unlabelled images (figures) only match their own.
    groups = np.unique([i.group for i in items], return_inverse=True)[1]
    labels = np.unique([i.label or f"item:{n}" for n, i in enumerate(items)], return_inverse=True)[1]

    heads = JointHeads(config.heads)
    if not config.train_text_head:
        heads.text.requires_grad_(False)
    trainable = [p for p in heads.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * int(np.ceil(len(items) / config.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr, total_steps=steps)
    history = []
    for _ in progress(range(config.epochs), desc="train joint heads", unit="epoch", leave=False):
        order = rng.permutation(len(items))
        for start in range(0, len(items), config.batch_size):
            idx = order[start : start + config.batch_size]
            view = torch.from_numpy(rng.integers(0, views, len(idx)))
            other = torch.from_numpy(rng.integers(0, views, len(idx)))
            chosen = torch.tensor([item_texts[i][rng.integers(len(item_texts[i]))] for i in idx])
            images = heads.embed_images(features[idx, view])
            images2 = heads.embed_images(features[idx, other])
            captions = heads.embed_texts(text_vectors[chosen])
            scale = heads.logit_scale.exp().clamp(max=100)
            same_text = (chosen[:, None] == chosen[None, :]).float()
            same_group = torch.from_numpy(groups[idx][:, None] == groups[idx][None, :]).float()
            same_label = torch.from_numpy(labels[idx][:, None] == labels[idx][None, :]).float()
            positives = torch.maximum(same_text, same_label)
            loss = (
                info_nce(scale * images @ captions.T, positives) + info_nce(scale * captions @ images.T, positives.T)
            ) / 2
            loss = loss + config.image_image_weight * info_nce(scale * images @ images2.T, same_group)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            history.append(loss.item())
    return heads.eval(), history
