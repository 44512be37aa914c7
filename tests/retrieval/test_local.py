"""Same-specimen search: keypoints on tissue only, verification through zoom and stain, and search's ranker."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pathatlas.corpora.demo import draw_pattern
from pathatlas.retrieval import local
from pathatlas.retrieval.local import Keypoints, inliers, keypoints, same_specimen, tissue_mask
from pathatlas.settings import Settings

THRESHOLD = Settings().verify_inliers


def slide(seed: int, chrome: bool = False) -> Image.Image:
    """A slide-viewer screenshot: white glass, one piece of tissue, and optionally the viewer's light grey
    buttons, a slider's caption and the navigator frame (the same in every screenshot of that viewer)."""
    canvas = Image.new("RGB", (800, 600), (246, 246, 246))
    tissue = draw_pattern("keratin-pearls", seed).resize((420, 420))
    rng = np.random.default_rng(seed)
    blob = Image.new("L", tissue.size, 0)  # each specimen its own outline
    ImageDraw.Draw(blob).polygon([tuple(p) for p in rng.uniform([0, 0], [420, 420], (7, 2))], fill=255)
    ImageDraw.Draw(blob).ellipse([*rng.uniform(0, 80, 2), *rng.uniform(340, 420, 2)], fill=255)
    canvas.paste(tissue, tuple(int(v) for v in rng.uniform([150, 100], [230, 150])), blob)
    if chrome:
        draw = ImageDraw.Draw(canvas)
        for k in range(7):
            draw.ellipse([10 + 30 * k, 10, 34 + 30 * k, 34], fill=(214, 214, 214), outline=(110, 110, 110))
            draw.text((18 + 30 * k, 15), "+-Hr<>#"[k], fill=(30, 30, 30))
        draw.rectangle([640, 10, 790, 110], outline=(150, 60, 60), width=2)
        draw.text((10, 44), "Rotate image: ----o----", fill=(0, 0, 0))
    return canvas


def zoomed_restained(image: Image.Image) -> Image.Image:
    """Another screenshot of the same slide: zoomed in on part of it, in another stain's colours."""
    part = image.crop((220, 160, 560, 480)).resize((680, 640), Image.Resampling.BICUBIC)
    pixels = np.asarray(part).astype(np.float32)
    brown = pixels[..., [1, 2, 0]] * np.array([0.85, 0.75, 0.6])  # channels swapped, darker: DAB-like
    return Image.fromarray(np.clip(brown, 0, 255).astype(np.uint8))


def test_the_same_specimen_is_verified_through_zoom_and_stain_and_another_is_not():
    original, other = slide(1), slide(2)
    query, same, unrelated = keypoints([zoomed_restained(original), original, other])
    to_same, to_unrelated = inliers(query, [same, unrelated])
    assert to_same >= 3 * THRESHOLD and to_unrelated < THRESHOLD
    assert inliers(query, [unrelated, same]) == [to_unrelated, to_same]  # each candidate's count is its own


def test_batched_matching_gives_the_brute_force_matchers_counts():
    """One matrix product for all candidates must find the matches OpenCV's matcher finds one candidate at a time."""
    import cv2

    def one_by_one(query: Keypoints, candidate: Keypoints) -> int:
        pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(query.root_sift(), candidate.root_sift(), k=2)
        good = [p[0] for p in pairs if p[0].distance < local.RATIO * p[1].distance]
        source = query.points[[m.queryIdx for m in good]]
        target = candidate.points[[m.trainIdx for m in good]]
        transform, mask = cv2.estimateAffinePartial2D(
            source, target, method=cv2.RANSAC, ransacReprojThreshold=local.RANSAC_PX
        )
        return int(mask.sum()) if local.plausible_zoom(transform) else 0

    query, *candidates = keypoints([zoomed_restained(slide(1)), slide(1), slide(2), slide(1).rotate(90, expand=True)])
    empty = Keypoints(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8))
    counts = inliers(query, [candidates[0], empty, *candidates[1:]])
    assert counts == [one_by_one(query, candidates[0]), 0, *(one_by_one(query, c) for c in candidates[1:])]
    assert counts[0] >= THRESHOLD and counts[3] >= THRESHOLD  # the zoom and the rotated slide are verified


def test_viewer_chrome_is_not_tissue():
    """Two different specimens seen through the same viewer must not match on its buttons and frame."""
    a, b = slide(3, chrome=True), slide(4, chrome=True)
    mask = tissue_mask(np.asarray(a.resize((768, 576))))
    assert mask[:40, :300].max() == 0 and mask[300, 400] == 255  # buttons out, tissue in
    found_a, found_b = keypoints([a, b])
    assert len(found_a) > 50 and all(y > 60 for _, y in found_a.points)  # nothing on the button row
    assert inliers(found_a, [found_b])[0] < THRESHOLD


def test_same_specimen_ranks_verified_candidates_by_inliers():
    ranking = same_specimen({"a": 3, "b": 40, "c": 12, "d": 12}, threshold=10)
    assert ranking == [("b", 40.0), ("c", 12.0), ("d", 12.0)]
    assert same_specimen({}, threshold=1) == []


def test_keypoints_round_trip_and_a_damaged_file_reads_as_none(tmp_path):
    (found,) = keypoints([slide(5)])
    found.save(tmp_path / "k.npz")
    back = Keypoints.load(tmp_path / "k.npz")
    assert np.array_equal(back.points, found.points) and np.array_equal(back.descriptors, found.descriptors)
    (tmp_path / "bad.npz").write_bytes(b"not numpy")
    assert Keypoints.load(tmp_path / "bad.npz") is None and Keypoints.load(tmp_path / "absent.npz") is None
    (blank,) = keypoints([Image.new("RGB", (300, 200), "white")])
    assert len(blank) == 0


@pytest.mark.parametrize("size", [(1, 1), (1, 5000), (5000, 1), (3, 2000)])
def test_extreme_shapes_give_keypoints_not_errors(size):
    """A 1 x 5000 strip once made OpenCV's resize fail, which would fail the whole case folder being indexed."""
    (found,) = keypoints([Image.new("RGB", size, (120, 60, 90))])
    assert len(found) == 0 and found.descriptors.shape == (0, 128)


def specimen_folder(folder, seed: int, same_case: bool) -> dict[str, Image.Image]:
    """A case folder of five keratin-pearl slides where B is A zoomed and restained (one case when ``same_case``)."""
    (folder / "images").mkdir(parents=True)
    images = {"A": slide(seed), "B": zoomed_restained(slide(seed))}
    images.update({name: slide(seed + n) for n, name in enumerate("CDE", start=1)})
    rows = []
    for name, image in images.items():
        image.save(folder / "images" / f"{name}.jpg", quality=92)
        case = "X" if same_case and name in "AB" else name
        rows.append({"image": f"images/{name}.jpg", "case": case, "diagnosis": "squamous cell carcinoma"})
    (folder / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return images


@pytest.fixture
def specimen_index(settings, tmp_path):
    """Cases whose images all show keratin pearls; only case B's image is the same slide as case A's."""
    from pathatlas.indexer.pipeline import Indexer
    from pathatlas.retrieval.index import Index

    folder = tmp_path / "cases"
    images = specimen_folder(folder, 10, same_case=False)
    index = Index.open(tmp_path / "index", settings, create=True)
    Indexer(index, show_progress=False).add([folder])
    return index, images


def test_search_by_image_puts_the_same_specimen_first(specimen_index, settings):
    from pathatlas.retrieval.search import SPECIMEN, Query, Searcher
    from pathatlas.ui.present import matched_why

    index, images = specimen_index
    assert len(list(index.media_dir.glob("*.sift.npz"))) == len(images)
    hits = Searcher(index).search(Query(image=images["A"], k=3))
    assert hits[0].payload.case == "A" and hits[0].matched_by.get(SPECIMEN) == 1  # the image itself
    assert hits[1].payload.case == "B" and hits[1].matched_by.get(SPECIMEN) == 2
    assert matched_why(hits[1].matched_by).startswith("same specimen #2")  # what the CLI, REST and web UI show
    assert all(SPECIMEN not in h.matched_by for h in hits[2:])

    index.settings = settings.model_copy(update={"verify_depth": 0})
    unverified = Searcher(index).search(Query(image=images["A"], k=5))
    assert all(SPECIMEN not in h.matched_by for h in unverified)


def test_an_image_query_takes_its_keypoints_while_its_dense_search_runs(specimen_index, monkeypatch):
    """The query's SIFT (0.13 s) overlaps the encoder and the stores, rather than starting after them."""
    import threading

    import pathatlas.retrieval.search as search

    index, images = specimen_index
    started, threads, overlapped = threading.Event(), [], []
    real_keypoints, real_rankings = search.keypoints, search.Searcher._rankings

    def keypoints(batch):
        threads.append(threading.current_thread().name)
        started.set()
        return real_keypoints(batch)

    def rankings(self, queries, pool):
        overlapped.append(started.wait(timeout=10))  # taken after the rankings, they would never start meanwhile
        return real_rankings(self, queries, pool)

    monkeypatch.setattr(search, "keypoints", keypoints)
    monkeypatch.setattr(search.Searcher, "_rankings", rankings)
    hits = search.Searcher(index).search(search.Query(image=images["A"], k=3))
    assert overlapped == [True] and threads[0].startswith("pathatlas-keypoints")
    assert hits[1].payload.case == "B" and hits[1].matched_by.get(search.SPECIMEN) == 2


def test_switching_keypoints_on_re_reads_the_case_folder(specimen_index, settings, tmp_path):
    """``case_keypoints`` is part of the folder's fingerprint: turned on for an index made without, the next
    ``index`` takes them (no --force), and the files of the version it replaces go."""
    from pathatlas.indexer.pipeline import Indexer
    from pathatlas.retrieval.index import Index

    off = settings.model_copy(update={"case_keypoints": False})
    index = Index.open(tmp_path / "switch", off, create=True)
    Indexer(index, show_progress=False).add([tmp_path / "cases"])
    assert not list(index.media_dir.glob("*.sift.npz")) and not index.has_keypoints()
    index.settings = settings  # the same open index (a running service) sees the new generation's keypoints
    report = Indexer(index, show_progress=False).add([tmp_path / "cases"])
    assert index.has_keypoints()
    assert report.sources[0].status == "indexed"
    assert len(list(index.media_dir.glob("*.sift.npz"))) == len(list(index.media_dir.glob("*.jpg"))) == 5
    record = next(rid for rid, _ in index.store.scan({"case": "B"}))
    assert index.keypoints(record) is index.keypoints(record)  # loaded once, then kept


def test_an_index_without_keypoints_spends_nothing_on_them(specimen_index, settings, tmp_path, monkeypatch):
    """Figures and pages have no keypoints: an image query then never takes its own (0.1 s of SIFT)."""
    import pathatlas.retrieval.search as search
    from pathatlas.indexer.pipeline import Indexer
    from pathatlas.retrieval.index import Index

    _, images = specimen_index
    plain = settings.model_copy(update={"case_keypoints": False})
    index = Index.open(tmp_path / "plain", plain, create=True)
    Indexer(index, show_progress=False).add([tmp_path / "cases"])
    assert not list(index.media_dir.glob("*.sift.npz"))
    taken = []
    monkeypatch.setattr(search, "keypoints", lambda batch: taken.append(batch) or [])
    hits = search.Searcher(index).search(search.Query(image=images["A"], k=3))
    assert hits and not taken and all(search.SPECIMEN not in h.matched_by for h in hits)


def test_more_like_this_verifies_with_the_stored_keypoints(specimen_index):
    from pathatlas.retrieval.search import SPECIMEN, Searcher
    from pathatlas.retrieval.similar import similar

    index, _ = specimen_index
    record_a = next(rid for rid, p in index.store.scan({"case": "A"}))
    hits = similar(Searcher(index), record_a, k=3)
    assert hits[0].payload.case == "B" and hits[0].matched_by.get(SPECIMEN) == 1


def test_the_benchmark_scores_what_search_does(settings, tmp_path):
    """``bench retrieval --cases``: the default row is visual kNN plus the specimen ranker (then the diagnosis vote),
    as in search."""
    from pathatlas.retrieval.bench import run_retrieval_bench
    from pathatlas.retrieval.encoders import create_encoder

    folder = tmp_path / "atlas"
    specimen_folder(folder, 20, same_case=True)
    encoder = create_encoder("default", settings)
    task = run_retrieval_bench(encoder, settings, cases=[folder / "cases.jsonl"], split="all")["tasks"]
    case = task["image_to_image_case"]
    assert case["n"] == 2 and case["default"] == "visual+specimen+majority"
    assert case["methods"]["visual+specimen"]["recall@1"] == 1.0
    assert {"recall@5", "precision@10"} <= set(case["significance"]["visual"])  # paired test against each row


def test_bench_queries_times_image_queries_with_verification(specimen_index, settings, tmp_path):
    """``bench queries`` runs real images through search on a keypoint index: every indexed image finds its own
    specimen, and none does with verification off (so the timed path is the verifying one)."""
    from pathatlas.retrieval.bench.speed import bench_queries, image_files

    index, images = specimen_index
    paths = image_files([tmp_path / "cases" / "images"], limit=4)
    assert [p.stem for p in paths] == ["A", "B", "C", "D"]
    result = bench_queries(index, ["keratin pearls"], paths, repeats=1)
    assert result["keypoints"] and result["records"] == len(images)
    assert result["image"]["n"] == 4 and result["image"]["same_specimen_found"] == 4
    assert result["text"]["same_specimen_found"] == 0 and result["image"]["p95_ms"] >= result["image"]["p50_ms"] > 0
    index.settings = settings.model_copy(update={"verify_depth": 0})
    assert bench_queries(index, [], paths, repeats=1)["image"]["same_specimen_found"] == 0


def test_keypoints_are_saved_through_a_temporary_file_of_the_writers_own(tmp_path):
    """Two processes filling the shared keypoints cache at once: one writer's temporary file (here, the name a fixed
    scheme would pick, still being written) is never the other's, and nothing temporary is left behind."""
    path = tmp_path / "a.npz"
    (tmp_path / ".a.npz.tmp").mkdir()  # another writer's file in progress, under the name a fixed scheme would pick
    found = keypoints([draw_pattern("granuloma", 3)])[0]
    found.save(path)
    loaded = Keypoints.load(path)
    assert loaded is not None and np.array_equal(loaded.descriptors, found.descriptors)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.npz.tmp", "a.npz"]


def test_saved_keypoints_follow_the_umask_as_the_index_s_other_files(tmp_path):
    """``mkstemp`` made them 0600: a service running as another user of the indexer's group could not read them, and
    its same-specimen checks failed without a word."""
    old = os.umask(0o002)
    try:
        Keypoints(np.zeros((1, 2), np.float32), np.zeros((1, 128), np.uint8)).save(tmp_path / "a.sift.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "a.sift.npz").stat().st_mode & 0o777 == 0o664
    assert [p.name for p in tmp_path.iterdir()] == ["a.sift.npz"], "no temporary file left"
