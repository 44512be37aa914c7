"""Same-specimen search: SIFT keypoints on the tissue, verified by one geometric transform (spatial verification).

Whole-image features (``visual``, ``joint``) say two images look alike; they cannot tell that two screenshots
show the same slide at another zoom or crop, or a serial section of it. Keypoints matched under one
similarity transform can: a candidate with many geometrically consistent matches almost surely shows the same
specimen. Search re-ranks an image query's candidates by that count, the classic second stage of instance
retrieval. Keypoints are taken on greyscale (stains change colour, not structure), slightly blurred (JPEG's 8 px
blocks otherwise make a lattice of keypoints that matches any other JPEG), and only on tissue: the slide
viewer's buttons, sliders and navigator frame of a screenshot match every other screenshot from that viewer.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pathatlas.settings import Settings

SIDE = 768
"""Longest side, in pixels, the image is scaled down to before keypoints are taken."""
MAX_KEYPOINTS = 500
"""Strongest keypoints kept: 500 verify as many atlas cases as 1000, with fewer false matches, at half the cost."""
BLUR_SIGMA = 1.0
RATIO = 0.75
"""Lowe's ratio test: a match counts when its nearest descriptor is clearly nearer than the second."""
RANSAC_PX = 6.0
MIN_MATCHES = 6
MAX_ZOOM = 8.0
"""Largest scale change, either way, of a verifying transform: keypoint matching is evaluated up to zooms of about 4
(Mikolajczyk et al. 2005), and at 8 a 768 px query covers 96 px of the candidate. A transform that shrinks the
query to a dot instead maps many matches onto one keypoint of a pale candidate (the only one near their
descriptors) and fits them all: the atlas' false pairs had scales of 1e-19 and 0."""
TISSUE_DENSITY = 0.12
"""Mean optical density above which a pixel is tissue (white glass and viewer background are near 0)."""
MIN_TISSUE_AREA = 0.005
"""Share of the image a tissue region must cover; smaller ones (buttons, text, frames) are chrome."""


@dataclass(frozen=True)
class Keypoints:
    points: np.ndarray
    """(n, 2) float32 positions in the image scaled to ``SIDE``."""
    descriptors: np.ndarray
    """(n, 128) uint8 SIFT descriptors."""

    def __len__(self) -> int:
        return len(self.points)

    def save(self, path: Path) -> None:
        """Written atomically (a reader sees the old file or the new, never half) through a temporary file of this
        writer's own: two processes filling the shared keypoints cache at once must not write into each other's. Made
        by an exclusive open, so its mode follows the umask as the index's other files do (``mkstemp``'s 0600 left a
        service running as another user of the group unable to read it, and same-specimen checks failed silently)."""
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            with tmp.open("xb") as handle:
                np.savez(handle, points=self.points, descriptors=self.descriptors)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> Keypoints | None:
        """The keypoints saved at ``path``; None when absent or unreadable (the candidate is then not verified)."""
        try:
            with np.load(path) as data:
                return cls(data["points"].astype(np.float32), data["descriptors"].astype(np.uint8))
        except (OSError, ValueError, KeyError):
            return None

    def root_sift(self) -> np.ndarray:
        """RootSIFT (Arandjelovic and Zisserman 2012): L1-normalised square roots, compared by Euclidean distance."""
        d = self.descriptors.astype(np.float32)
        return np.sqrt(d / np.maximum(d.sum(axis=1, keepdims=True), 1e-9))


def tissue_mask(rgb: np.ndarray) -> np.ndarray:
    """uint8 mask (255 = tissue) of the large regions denser than glass, widened so edges keep their keypoints."""
    import cv2

    density = -np.log((rgb.astype(np.float32) + 1.0) / 256.0).mean(axis=2)
    mask = (cv2.GaussianBlur(density, (9, 9), 0) > TISSUE_DENSITY).astype(np.uint8) * 255
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((11, 11), np.uint8))  # thin lines: frames, sliders
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    keep = [k for k in range(1, count) if stats[k, cv2.CC_STAT_AREA] >= MIN_TISSUE_AREA * mask.size]
    mask = np.isin(labels, keep).astype(np.uint8) * 255
    return cv2.dilate(mask, np.ones((31, 31), np.uint8))


def keypoints(images: list[Image.Image]) -> list[Keypoints]:
    """Each image's SIFT keypoints on its tissue (empty for an image with no tissue or no texture)."""
    import cv2

    sift = cv2.SIFT_create(nfeatures=MAX_KEYPOINTS)
    out = []
    for image in images:
        rgb = np.asarray(image.convert("RGB"))
        height, width = rgb.shape[:2]
        scale = SIDE / max(height, width)
        if scale < 1:  # at least one pixel a side: a 1 x 5000 strip must not fail its whole case folder
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (0, 0), BLUR_SIGMA)
        found, descriptors = sift.detectAndCompute(grey, tissue_mask(rgb))
        if descriptors is None:
            out.append(Keypoints(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8)))
            continue
        points = np.array([k.pt for k in found], np.float32)
        out.append(Keypoints(points, np.clip(np.rint(descriptors), 0, 255).astype(np.uint8)))
    return out


def inliers(query: Keypoints, candidates: Sequence[Keypoints]) -> list[int]:
    """Per candidate, the matches (Lowe's ratio test) consistent with one similarity transform (RANSAC); 0 when
    too few to try. Every candidate's distances come from one matrix product: for a search's 50 candidates 75 ms
    against 194 ms with one brute-force matcher per candidate, the same counts on 2,400 atlas pairs."""
    import cv2

    counts = [0] * len(candidates)
    tried = [n for n, c in enumerate(candidates) if len(c) >= MIN_MATCHES]
    if len(query) < MIN_MATCHES or not tried:
        return counts
    described = query.root_sift()
    gallery = [candidates[n].root_sift() for n in tried]
    # squared Euclidean distances, as the matcher computes them, from the norms and one product (in place)
    distances = described @ np.concatenate(gallery).T
    distances *= -2
    distances += (described * described).sum(1)[:, None]
    distances += np.concatenate([(g * g).sum(1) for g in gallery])[None, :]
    rows = np.arange(len(described))
    bounds = np.cumsum([0, *(len(g) for g in gallery)])
    for n, start, end in zip(tried, bounds[:-1], bounds[1:], strict=True):
        block = distances[:, start:end]
        nearest = block.argmin(axis=1)
        first = block[rows, nearest].copy()
        block[rows, nearest] = np.inf  # the second nearest is the nearest of the rest
        second = block.min(axis=1)
        first, second = np.sqrt(np.maximum(first, 0)), np.sqrt(np.maximum(second, 0))
        good = np.flatnonzero(first < RATIO * second)
        if len(good) < MIN_MATCHES:
            continue
        source, target = query.points[good], candidates[n].points[nearest[good]]
        transform, mask = cv2.estimateAffinePartial2D(
            source, target, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX
        )
        counts[n] = int(mask.sum()) if transform is not None and plausible_zoom(transform) else 0
    return counts


def plausible_zoom(transform: np.ndarray) -> bool:
    """Whether a 2 x 3 similarity transform's scale is within ``MAX_ZOOM`` of 1 (see there why)."""
    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    return 1 / MAX_ZOOM <= scale <= MAX_ZOOM


def same_specimen(counts: Mapping[str, int], threshold: int) -> list[tuple[str, float]]:
    """The ``specimen`` ranker: candidates with at least ``threshold`` inliers, most first (ties keep their
    order). Candidates without keypoints (figures, pages, indexes made without them) have no count."""
    verified = [(rid, float(n)) for rid, n in counts.items() if n >= threshold]
    return sorted(verified, key=lambda hit: -hit[1])


PARAMETERS = f"{SIDE}/{MAX_KEYPOINTS}/{BLUR_SIGMA}/{TISSUE_DENSITY}/{MIN_TISSUE_AREA}"


def cached_keypoints(paths: list[Path], settings: Settings) -> list[Keypoints]:
    """Keypoints of image files, cached under ``<home>/cache/keypoints`` by path, size, mtime and parameters (for
    benchmarks, which read the same files again and again)."""
    from pathatlas.retrieval.images import open_image
    from pathatlas.retrieval.progress import progress

    cache = settings.cache_dir / "keypoints"
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for path in progress(paths, desc="keypoints", unit="image", leave=False):
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{PARAMETERS}".encode()
        file = cache / f"{hashlib.blake2b(key, digest_size=16).hexdigest()}.npz"
        found = Keypoints.load(file)
        if found is None:
            found = keypoints([open_image(path, settings.max_image_pixels)])[0]
            found.save(file)
        out.append(found)
    return out
