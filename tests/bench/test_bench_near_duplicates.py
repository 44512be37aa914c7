"""Near-duplicate images (a tile and its turned, mirrored or zoomed copy, as LC25000 made its tiles) found by pixels
alone, and what the image benchmark does with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathatlas.retrieval.bench.common import component_notes, losses, method_style, plot_curves
from pathatlas.retrieval.bench.images import ImageSet, image_to_image
from pathatlas.retrieval.datasets import ImageItem, is_validation, near_duplicate_groups, read_cases
from tests.helpers import run_cli
from tests.indexer.test_incremental_cases import PixelEncoder


def texture(seed: int, side: int = 224) -> Image.Image:
    """A tissue-like texture: random blobs smoothed, in colour."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (side // 8, side // 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((side, side), Image.Resampling.BICUBIC)


def save(image: Image.Image, path: Path) -> Path:
    image.save(path)
    return path


def test_a_tile_and_its_turned_and_mirrored_copies_group_and_unrelated_tiles_do_not(tmp_path):
    tile, other = texture(1), texture(2)
    paths = [
        save(tile, tmp_path / "tile.png"),
        save(texture(3), tmp_path / "unrelated.png"),
        save(tile.transpose(Image.Transpose.FLIP_LEFT_RIGHT), tmp_path / "mirror.png"),
        save(
            tile.transpose(Image.Transpose.ROTATE_90).rotate(10, resample=Image.Resampling.BILINEAR),
            tmp_path / "turned.png",
        ),
        save(other, tmp_path / "other.png"),
        save(other.transpose(Image.Transpose.FLIP_TOP_BOTTOM).convert("L"), tmp_path / "other-grey-flipped.jpg"),
        save(Image.new("RGB", (224, 224), "white"), tmp_path / "blank.png"),
        save(Image.new("RGB", (224, 224), "white"), tmp_path / "blank-too.png"),
    ]
    groups = near_duplicate_groups([ImageItem(path, ["t"], path.stem) for path in paths])
    assert groups == [0, 1, 0, 0, 4, 4, 6, 7]  # blank images show no tissue: nothing to call the same
    assert near_duplicate_groups(paths[:2]) == [0, 1]  # paths will do as well as items
    assert near_duplicate_groups([]) == []


def augmented(picture: Image.Image, degrees: float) -> Image.Image:
    """The picture as LC25000's augmentation made its copies: turned, cropped to the largest upright square inside the
    turned picture, and scaled back up to its size (by 1.28 at 20 degrees)."""
    side = picture.width
    inner = side / (np.cos(np.radians(abs(degrees))) + np.sin(np.radians(abs(degrees))))
    box = ((side - inner) / 2, (side - inner) / 2, (side + inner) / 2, (side + inner) / 2)
    turned = picture.rotate(degrees, resample=Image.Resampling.BILINEAR)
    return turned.resize((side, side), Image.Resampling.BILINEAR, box=box)


def test_a_zoomed_and_turned_copy_groups_with_its_tile_and_unrelated_tiles_still_do_not(tmp_path):
    tile = texture(1)
    copies = [
        augmented(tile, 20).transpose(Image.Transpose.FLIP_LEFT_RIGHT),  # 1.28 times as large, turned and mirrored
        augmented(tile.transpose(Image.Transpose.ROTATE_90), -12),  # 1.19 times as large, turned another way
    ]
    unrelated = [texture(seed) for seed in range(2, 7)] + [augmented(texture(seed), 20) for seed in range(7, 10)]
    paths = [save(picture, tmp_path / f"{n}.png") for n, picture in enumerate([tile, *copies, *unrelated])]
    assert near_duplicate_groups(paths) == [0, 0, 0, *range(3, 11)]


def mirrored_tiles(folder: Path) -> list[ImageItem]:
    """Six tiles of two diagnoses, as ``read_cases`` reads a folder of tiles (no case column): tile4 (held out by the
    fixed split) and tile0 (a training tile) are one picture and its mirror; tile5 and tile8 are held out too."""
    folder.mkdir()
    pictures = {
        "tile4": (texture(1), "x"),
        "tile0": (texture(1).transpose(Image.Transpose.FLIP_LEFT_RIGHT), "x"),
        "tile5": (texture(2), "x"),
        "tile1": (texture(3), "y"),
        "tile8": (texture(4), "y"),
        "tile2": (texture(5), "y"),
    }
    rows = ["image,diagnosis", *(f"{name}.png,{label}" for name, (_, label) in pictures.items())]
    for name, (picture, _) in pictures.items():
        picture.save(folder / f"{name}.png")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return read_cases(folder / "labels.csv", diagnosed_only=False)


def same_label(a: ImageItem, b: ImageItem) -> bool:
    return a.label == b.label


def test_a_held_out_tile_whose_mirror_trained_the_heads_is_not_held_out(tmp_path, fast):
    items = mirrored_tiles(tmp_path / "tiles")
    assert all(item.tile for item in items) and [is_validation(item.group) for item in items] == [1, 0, 1, 0, 1, 0]
    images = ImageSet(items, PixelEncoder(fast), fast, "val")
    assert [items[n].group for n in images.held_out] == ["tile5", "tile8"]
    assert images.trained_copy == 1
    body = image_to_image(images, same_label, "label", ("visual",))["label"]
    assert body["n"] == 2 and body["near_duplicates"] == {"held_out_with_trained_copy": 1}
    assert any("1 tiles of the held-out split are not counted held out" in note for note in body["notes"])


def test_a_querys_copies_leave_its_gallery_for_every_method_and_chance(tmp_path, fast):
    items = mirrored_tiles(tmp_path / "tiles")
    images = ImageSet(items, PixelEncoder(fast), fast, "all")
    body = image_to_image(images, same_label, "label", ("visual",), runs=tmp_path / "runs")["label"]
    assert body["n"] == 6 and body["near_duplicates"] == {"queries_with_copies": 2}
    assert any("2 of 6 queries have turned, mirrored or zoomed copies" in note for note in body["notes"])
    qrels = (tmp_path / "runs" / "qrels.label.txt").read_text().split("\n")
    assert [line.split()[2] for line in qrels if line.startswith("tile4.png ")] == ["tile5.png"]
    assert {"visual", "plain-knn", "visual+specimen+majority"} <= set(body["methods"])
    for method in set(body["methods"]) - {"chance"}:
        ranked = [line.split()[2] for line in (tmp_path / "runs" / f"label.{method}.trec").read_text().splitlines()
                  if line.startswith("tile4.png ")]  # fmt: skip
        assert sorted(ranked) == ["tile1.png", "tile2.png", "tile5.png", "tile8.png"], method
    # chance is each query's gallery as one tie: tile4 and tile0 hold 1 relevant among 4, the others 2 among 5, all
    # within the top 10
    assert body["methods"]["chance"]["precision@10"] == pytest.approx((2 * 1 / 10 + 4 * 2 / 10) / 6)


def test_over_every_query_the_default_says_it_is_searchs_without_the_learned_space(tmp_path, fast):
    images = ImageSet(mirrored_tiles(tmp_path / "tiles"), PixelEncoder(fast), fast, "all")
    images.learned = ("joint",)  # as the default encoder's heads, trained on the training split
    tasks = image_to_image(images, same_label, "label", ("visual", "joint"), headline="precision@10")
    every, held_out = tasks["label"], tasks["label:held-out"]
    assert every["default"] == "visual+specimen+majority" and every["default_label"] == "default without joint"
    assert any(note.startswith("visual+specimen+majority is search's default without joint") for note in every["notes"])
    assert held_out["default"] == "visual+joint+specimen+majority" and "default_label" not in held_out
    assert every["headline"] == held_out["headline"] == "precision@10"


def scores(**metrics: float) -> dict[str, float]:
    return {"recall@1": 0.5, "recall@5": 0.8, "recall@10": 0.9, "mrr": 0.6, "precision@10": 0.3, **metrics}


def test_a_default_below_a_baseline_on_recall_at_10_is_marked():
    task = {
        "default": "hybrid",
        "baselines": ["bm25"],
        "methods": {"hybrid": scores(), "bm25": scores(**{"recall@10": 0.95})},
    }
    assert losses(task) == {"hybrid": [("bm25", "recall@10")]}


def test_a_default_below_one_of_its_own_components_is_noted_apart_from_baselines():
    default = "visual+joint+specimen+majority"
    task = {
        "default": default,
        "baselines": ["plain-knn", "chance"],
        "methods": {
            "visual": scores(**{"recall@5": 0.9}),
            "joint": scores(),
            "visual+joint": scores(mrr=0.61),
            "plain-knn": scores(**{"recall@5": 0.95}),  # a baseline: marked by losses, not here
            "visual+other": scores(**{"recall@1": 0.9}),  # fuses what the default does not
            default: scores(),
            "chance": scores(**{"recall@10": 0.99}),
        },
        "notes": ["held-out split: 8 of 42 queries; --split all for all"],
    }
    noted = component_notes(task)
    assert noted["below_components"] == {
        "visual": {"recall@5": {"default": 0.8, "visual": 0.9}},
        "visual+joint": {"mrr": {"default": 0.6, "visual+joint": 0.61}},
    }
    assert noted["notes"] == [
        "held-out split: 8 of 42 queries; --split all for all",
        f"the default {default} scores below its own component visual on recall@5 (0.800 vs 0.900)",
        f"the default {default} scores below its own component visual+joint on mrr (0.600 vs 0.610)",
    ]
    assert losses(noted) == {default: [("plain-knn", "recall@5"), ("chance", "recall@10")]}
    assert component_notes({**task, "methods": {default: scores(), "visual": scores()}}) == {
        **task,
        "methods": {default: scores(), "visual": scores()},
    }


def test_the_plot_draws_the_headline_precision_as_bars_and_the_default_thick(tmp_path):
    curve = [0.5] * 20
    body = {
        "n": 3,
        "default": "visual+majority",
        "default_label": "default without joint",
        "baselines": ["chance"],
        "methods": {name: {**scores(), "curve": curve} for name in ("visual", "visual+majority", "chance")},
    }
    plain, headline = tmp_path / "plain.png", tmp_path / "headline.png"
    curves_only = {name: {"curve": curve} for name in body["methods"]}  # no metric but the curve's: no bars
    plot_curves({"encoder": "e", "split": "all", "tasks": {"t": {**body, "methods": curves_only}}}, plain)
    plot_curves({"encoder": "e", "split": "all", "tasks": {"t": {**body, "headline": "precision@10"}}}, headline)
    assert Image.open(headline).height > 1.8 * Image.open(plain).height  # a panel of bars below the curves
    label, style = method_style(body, "visual+majority")
    assert (
        label == "visual+majority (default without joint)"
        and style["linewidth"] > method_style(body, "visual")[1]["linewidth"]
    )
    assert style["zorder"] > 2  # over the other lines


def test_the_printed_table_names_the_default_row_as_the_run_labels_it():
    from rich.console import Console

    from pathatlas.ui.bench_cli import retrieval_table

    body = {"n": 3, "default": "visual+majority", "default_label": "default without joint", "baselines": []}
    body["methods"] = {"visual+majority": scores(), "visual": scores()}
    console = Console(width=200, record=True)
    console.print(retrieval_table("atlas", body))
    row = next(line for line in console.export_text().splitlines() if "visual+majority" in line)
    assert "default without joint" in row, row


def test_over_every_query_the_component_note_names_the_default_without_joint():
    task = {
        "default": "visual+specimen+majority",
        "default_label": "default without joint",
        "baselines": [],
        "methods": {"visual": scores(**{"recall@10": 0.95}), "visual+specimen+majority": scores()},
    }
    assert component_notes(task)["notes"] == [
        "the default without joint visual+specimen+majority scores below its own component visual on recall@10 "
        "(0.900 vs 0.950)"
    ]


def test_a_default_row_below_a_baseline_keeps_its_label_beside_the_mark():
    from rich.console import Console

    from pathatlas.ui.bench_cli import retrieval_table

    body = {"n": 3, "default": "visual+majority", "default_label": "default without joint", "baselines": ["plain-knn"]}
    body["methods"] = {"visual+majority": scores(), "plain-knn": scores(**{"recall@10": 0.95})}
    console = Console(width=200, record=True)
    console.print(retrieval_table("lc25000", body))
    row = next(line for line in console.export_text().splitlines() if "visual+majority" in line)
    assert "default without joint; ✗ below plain-knn on recall@10" in row, row


def test_a_method_keeps_its_colour_in_every_panel(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    drawn: dict[str, set] = {}

    def record(figure, *args, **kwargs):  # the lines as drawn, instead of the file
        for ax in figure.axes:
            for line in ax.get_lines():
                drawn.setdefault(line.get_label().split(" (")[0], set()).add(line.get_color())

    monkeypatch.setattr(Figure, "savefig", record)

    def methods(*names: str) -> dict:
        return {name: {**scores(), "curve": [0.5] * 20} for name in names}

    every = {"n": 3, "default": "visual+majority", "default_label": "default without joint"}
    held_out = {"n": 2, "default": "visual+joint+majority"}
    every["methods"] = methods("visual", "plain-knn", "visual+majority", "chance")
    held_out["methods"] = methods("visual", "joint", "plain-knn", "visual+majority", "visual+joint+majority", "chance")
    plot_curves({"encoder": "e", "split": "all", "tasks": {"all": every, "held-out": held_out}}, tmp_path / "p.png")
    assert set(drawn) == set(held_out["methods"]) and all(len(colours) == 1 for colours in drawn.values()), drawn
    assert len({colour for colours in drawn.values() for colour in colours}) == len(drawn)  # one each


def test_the_exclude_case_help_says_a_caseless_tiles_near_duplicates_are_kept_out_too():
    shown = " ".join(run_cli("bench", "qa", "--help", COLUMNS="300").output.replace("│", " ").split())  # box drawn
    assert "An image without a case (an LC25000 tile) keeps its near-duplicates out too" in shown, shown
