"""Reproduce pathatlas-joint-v1 from ../shared/data: ``pathatlas train-joint``.

Frozen features are computed once (EfficientNet-Lite0 on each image plus augmented views; MiniLM on each
description) and cached, so training the heads takes seconds to minutes on two CPU cores. Validation
groups (whole textbook modules, whole atlas cases, a fifth of LC25000 tiles) are never trained on.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torchvision import transforms
from tqdm.auto import tqdm

from pathatlas.retrieval.datasets import ImageItem, is_validation, read_cases, read_figures
from pathatlas.retrieval.encoders.joint_heads import WEIGHTS_DIR, HeadsConfig, JointHeads
from pathatlas.retrieval.encoders.towers import IMAGE_SIZE, LITE_MEAN, LITE_STD, EfficientNetTower, MiniLMTower
from pathatlas.retrieval.images import open_image
from pathatlas.settings import Settings

DATASETS = {
    "textbook": ("openstax_ap2e/figures.jsonl", read_figures),
    "atlas": ("atlas/cases.jsonl", read_cases),
    "lc25000": ("lc25000/labels.csv", read_cases),
}


@dataclass
class TrainConfig:
    seed: int = 0
    epochs: int = 60
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.3
    views: int = 3
    """Feature views per image: the plain encoder view plus augmented ones (crop, flip, rotation, stain jitter)."""
    image_image_weight: float = 0.5
    """Weight of the loss that pulls together images of one group (same case, same figure, same tile label)."""
    heads: HeadsConfig = field(default_factory=HeadsConfig)


def augmentation() -> transforms.Compose:
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(IMAGE_SIZE, scale=(0.35, 1.0), ratio=(0.75, 1.33)),
            transforms.RandomHorizontalFlip(),
            transforms.RandomVerticalFlip(),
            transforms.ColorJitter(brightness=0.15, contrast=0.15, saturation=0.2, hue=0.04),
            transforms.ToTensor(),
            transforms.Normalize(LITE_MEAN, LITE_STD),
        ]
    )


def load_items(data: Path) -> dict[str, list[ImageItem]]:
    return {name: reader(data / rel) for name, (rel, reader) in DATASETS.items() if (data / rel).exists()}


def image_features(items: list[ImageItem], views: int, settings: Settings, seed: int) -> np.ndarray:
    """(n, views, 1280) frozen features; view 0 is exactly what the encoder computes at search time."""
    key = hashlib.sha1(f"{[str(i.path) for i in items]}{views}{seed}".encode()).hexdigest()[:16]
    cache = settings.cache_dir / f"joint-features-{key}.npy"
    if cache.is_file():
        return np.load(cache)
    tower = EfficientNetTower(settings.device)
    augment = augmentation()
    torch.manual_seed(seed)
    out = np.zeros((len(items), views, 1280), dtype=np.float32)
    batch = 32
    for start in tqdm(range(0, len(items), batch), desc="image features", unit="batch"):
        images = [open_image(i.path, settings.max_image_pixels) for i in items[start : start + batch]]
        out[start : start + len(images), 0] = tower(images)
        for view in range(1, views):
            tensors = torch.stack([augment(image) for image in images])
            out[start : start + len(images), view] = tower.features(tensors).cpu().numpy()
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(cache, out)
    return out


def info_nce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against every positive (multi-positive InfoNCE), rows with none are skipped."""
    log_probs = logits.log_softmax(dim=-1)
    counts = positives.sum(dim=-1)
    keep = counts > 0
    return -((log_probs * positives).sum(dim=-1)[keep] / counts[keep]).mean()


def train(data: Path, settings: Settings, config: TrainConfig, out: Path = WEIGHTS_DIR) -> dict:
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    by_dataset = load_items(data)
    items = [i for group in by_dataset.values() for i in group if i.texts and not is_validation(i.group)]
    features = torch.from_numpy(image_features(items, config.views, settings, config.seed))

    texts = sorted({t for i in items for t in i.texts})
    text_index = {t: n for n, t in enumerate(texts)}
    text_vectors = torch.from_numpy(MiniLMTower(settings.cache_dir, settings.device)(texts, batch_size=64))
    item_texts = [[text_index[t] for t in i.texts] for i in items]
    # Images are one "class" per group for image-image positives; texts are positives when identical.
    groups = np.unique([i.group for i in items], return_inverse=True)[1]
    labels = np.unique([i.label or f"group:{i.group}" for i in items], return_inverse=True)[1]

    heads = JointHeads(config.heads)
    optimiser = torch.optim.AdamW(heads.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * int(np.ceil(len(items) / config.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr, total_steps=steps)
    history = []
    for _ in tqdm(range(config.epochs), desc="train joint heads", unit="epoch"):
        order = rng.permutation(len(items))
        for start in range(0, len(items), config.batch_size):
            idx = order[start : start + config.batch_size]
            view = torch.from_numpy(rng.integers(0, config.views, len(idx)))
            other = torch.from_numpy(rng.integers(0, config.views, len(idx)))
            chosen = torch.tensor([item_texts[i][rng.integers(len(item_texts[i]))] for i in idx])
            images = heads.embed_images(features[idx, view])
            images2 = heads.embed_images(features[idx, other])
            captions = heads.embed_texts(text_vectors[chosen])
            scale = heads.logit_scale.exp().clamp(max=100)
            same_text = (chosen[:, None] == chosen[None, :]).float()
            same_group = torch.from_numpy(groups[idx][:, None] == groups[idx][None, :]).float()
            same_label = torch.from_numpy(labels[idx][:, None] == labels[idx][None, :]).float()
            loss = (
                info_nce(scale * images @ captions.T, torch.maximum(same_text, same_label))
                + info_nce(scale * captions @ images.T, torch.maximum(same_text, same_label).T)
            ) / 2
            loss = loss + config.image_image_weight * info_nce(scale * images @ images2.T, same_group)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            history.append(loss.item())
    heads.eval()
    heads.save(out)
    summary = {
        "train_items": {
            name: sum(1 for i in group if i.texts and not is_validation(i.group)) for name, group in by_dataset.items()
        },
        "texts": len(texts),
        "final_loss": round(float(np.mean(history[-10:])), 4),
        "seconds": round(time.perf_counter() - started, 1),
        "config": asdict(config),
    }
    (out / "training.json").write_text(json.dumps(summary, indent=2))
    return summary
