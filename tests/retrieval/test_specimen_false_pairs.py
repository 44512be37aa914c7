"""False "same specimen" pairs: a transform that shrinks the query to a dot must not verify (retrieval/local.py).

On the atlas, pale candidates with few keypoints verified unrelated slides: dozens of the query's matches all
landed on one candidate keypoint, and RANSAC fitted them with a similarity transform of scale 1e-19.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pathatlas.retrieval import local
from pathatlas.retrieval.local import Keypoints, inliers, keypoints
from tests.retrieval.test_local import THRESHOLD, slide, zoomed_restained


def described(points: np.ndarray, descriptors: np.ndarray) -> Keypoints:
    return Keypoints(points.astype(np.float32), np.clip(descriptors, 0, 255).astype(np.uint8))


def gallery(count: int, seed: int) -> Keypoints:
    """Keypoints spread over a 768 x 576 image, each with its own sparse random descriptor."""
    rng = np.random.default_rng(seed)
    descriptors = rng.integers(0, 255, (count, 128)) * (rng.random((count, 128)) < 0.2)
    return described(rng.uniform([0, 0], [768, 576], (count, 2)), descriptors)


def test_many_matches_onto_one_keypoint_do_not_verify():
    """The atlas' false pairs in miniature: 40 query keypoints whose descriptors all resemble one candidate's."""
    rng = np.random.default_rng(0)
    candidate = gallery(60, seed=1)
    hub = candidate.descriptors[0].astype(int)
    query = described(rng.uniform([100, 30], [700, 520], (40, 2)), hub + rng.integers(-2, 3, (40, 128)))
    assert inliers(query, [candidate]) == [0]


@pytest.mark.parametrize(("zoom", "verified"), [(1.0, True), (0.5, True), (4.0, True), (1 / 16, False), (16.0, False)])
def test_a_transform_verifies_only_at_a_zoom_sift_can_match(zoom, verified):
    candidate = gallery(80, seed=2)
    centre = np.array([384, 288], np.float32)
    query = described((candidate.points - centre) / zoom + centre, candidate.descriptors.astype(int))
    assert (inliers(query, [candidate])[0] >= THRESHOLD) is verified


def stamped(image: Image.Image, copies: int, seed: int) -> Image.Image:
    """``image`` with ``copies`` of one small dark triangle-and-dot mark scattered over its tissue."""
    mark = Image.new("RGB", (28, 28), (246, 246, 246))
    draw = ImageDraw.Draw(mark)
    draw.polygon([(4, 4), (24, 10), (10, 24)], fill=(60, 20, 70))
    draw.ellipse([14, 14, 22, 22], fill=(200, 120, 170))
    out = image.copy()
    for x, y in np.random.default_rng(seed).uniform([160, 120], [560, 440], (copies, 2)):
        out.paste(mark, (int(x), int(y)))
    return out


def test_two_specimens_in_one_viewer_sharing_a_mark_do_not_verify_and_a_zoom_still_does():
    """Different tissue in identical viewer chrome, the query strewn with a mark the candidate shows once: every
    copy matches that one keypoint (47 inliers before the zoom rule). A zoomed, restained crop still verifies."""
    query = stamped(slide(3, chrome=True), copies=20, seed=3)
    other = stamped(slide(23, chrome=True), copies=1, seed=23)
    found_query, found_other, found_zoom = keypoints([query, other, zoomed_restained(query)])
    to_other, to_zoom = inliers(found_query, [found_other, found_zoom])
    assert to_other < THRESHOLD <= to_zoom


def test_plausible_zoom_reads_the_scale_of_a_rotated_transform():
    angle, scale = np.deg2rad(30), 3.0
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    assert local.plausible_zoom(np.hstack([rotation, [[5.0], [7.0]]]))
    assert not local.plausible_zoom(np.hstack([rotation * 1e-19, [[331.0], [167.0]]]))
