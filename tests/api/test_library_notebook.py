"""``Atlas`` from a notebook (a tester's findings): images as a notebook holds them (arrays, file-likes, bytearrays)
and within the pixel limit however given, another ``Atlas``'s commits seen at the next call, the doors' other answers
(similar records, sources, unknown words), ``from pathatlas import Atlas``, and wrong types refused in one line."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.errors import BadInputError, PathAtlasError
from pathatlas.ui.api.app import create_app
from pathatlas.ui.library import Atlas, image_of
from tests.helpers import hashing_settings, png_bytes, quick, run_cli

PRIMER = "demo-primer.pdf"


def test_an_image_query_takes_an_array_a_file_like_or_a_bytearray_as_it_takes_the_file(
    demo_index, demo_corpus, session_home
):
    """Each was a bare TypeError from ``Path(image)``."""
    path = sorted((demo_corpus / "cases" / "images").glob("*.jpg"))[0]
    with Atlas(demo_index.path, home=session_home) as atlas:  # the default encoder: the hashing one sees no images
        expected = [hit["id"] for hit in atlas.search(image=path, k=3)]
        given = {
            "array": np.asarray(Image.open(path)),
            "file-like": io.BytesIO(path.read_bytes()),
            "bytearray": bytearray(path.read_bytes()),
        }
        found = {kind: [hit["id"] for hit in atlas.search(image=image, k=3)] for kind, image in given.items()}
        assert found == dict.fromkeys(given, expected)
        with path.open("rb") as file:
            assert [hit.id for hit in atlas.hits(image=file, k=3)] == expected
        grey = np.asarray(Image.open(path).convert("L"))
        assert atlas.search(image=grey, k=3) == atlas.search(image=Image.fromarray(grey), k=3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.search(image=5), r"^image must be a path, bytes, a binary file \(.*\), a PIL image or a numpy "),
        (lambda a: a.hits(image=[1, 2]), r"^image must be .* or a numpy array, not list$"),
        (lambda a: a.ask("Which?", ["Koilocytes", "Goblet cells"], image=5.0), r"^image must be .*, not float$"),
        (lambda a: a.search(image=np.zeros((64, 64, 3))), r"^an image array must be HxW, HxWx3 or HxWx4 of uint8 "),
        (lambda a: a.search(image=np.zeros((64, 64, 2), np.uint8)), r"not 64x64x2 uint8$"),
        (lambda a: a.search(image=io.StringIO("text")), r"open it with open\(path, 'rb'\)$"),
        (lambda a: a.remove(5), r"^remove takes a source's file name, id or path \(text or os.PathLike\), not int$"),
        (lambda a: a.add([]), r"^add takes at least one path"),
    ],
)
def test_what_atlas_cannot_take_is_refused_in_one_line(quick_atlas, call, message):
    with pytest.raises(PathAtlasError, match=message) as refused:
        call(quick_atlas)
    assert "\n" not in str(refused.value)


def test_an_index_that_is_no_path_is_named_as_such(tmp_path):
    """Pydantic's words were "Input is not a valid path for <class 'pathlib.Path'>"."""
    with pytest.raises(BadInputError) as refused:
        Atlas(5, home=tmp_path)
    assert str(refused.value) == "bad setting PATHATLAS_INDEX=5: index must be a path (str or pathlib.Path), not int"


def test_a_source_given_as_a_path_is_removed(tmp_path, demo_corpus):
    primer = demo_corpus / "primer" / PRIMER
    with Atlas(tmp_path / "index", **quick(tmp_path)) as atlas:
        atlas.add(primer)
        assert atlas.remove(primer) > 0 and atlas.sources() == {}


def test_an_image_given_as_a_value_is_held_to_the_pixel_limit_of_its_bytes(tmp_path, quick_demo):
    """A PIL image skipped the limit its PNG's bytes are refused over (the tester's 81-megapixel image searched)."""
    image = Image.new("RGB", (120, 100), (200, 100, 150))
    with Atlas(quick_demo / "index", **quick(quick_demo, max_image_pixels=10_000)) as atlas:
        refusals = []
        for given in (png_bytes(image), image, np.asarray(image)):
            with pytest.raises(BadInputError) as refused:
                atlas.search(image=given)
            refusals.append(str(refused.value))
    assert refusals == [refusals[0]] * 3, refusals
    assert refusals[0].startswith("the image given is 120x100 pixels, over the limit of 10,000")


def test_an_atlas_sees_what_another_committed_at_its_next_call_without_reopening_otherwise(tmp_path, demo_corpus):
    """It searched, asked and cited the generation it opened until closed: a removed book's pages and thumbnails."""
    with Atlas(tmp_path / "index", **quick(tmp_path)) as writer, Atlas(tmp_path / "index", **quick(tmp_path)) as reader:
        writer.add(demo_corpus / "primer", demo_corpus / "cases")
        question = ("Which cells show a perinuclear halo?", ["Koilocytes", "Goblet cells"])

        def cited() -> set[str]:  # asked first: an agent already made searched the generation it was made on
            answer = reader.ask(*question)
            hits = reader.search("koilocytes perinuclear halo", k=10)
            return {c["source"] for c in answer["citations"]} | {h["citation"]["source"] for h in hits}

        assert PRIMER in cited()
        index, lexical = reader.index, reader.index.lexical
        reader.search("koilocytes")
        assert reader.index.lexical is lexical, "no commit: nothing read again"
        assert writer.remove(PRIMER) > 0
        assert PRIMER not in cited()
        assert reader.index is index and reader.index.lexical is not lexical
        assert [entry["kind"] for entry in reader.sources().values()] == ["cases"]


def test_sources_are_what_info_lists(quick_demo, quick_atlas):
    info = run_cli("info", "--index", quick_demo / "index", "--json", home=quick_demo / "home")
    assert info.exit_code == 0, info.output
    listed = quick_atlas.sources()
    assert listed == json.loads(info.stdout)["sources"]
    assert {entry["on_disk"] for entry in listed.values()} == {"ok"}


def test_similar_records_and_unknown_words_are_what_rest_gives(quick_demo, quick_atlas):
    text = "koilocytes perinuclear haloo"
    record = quick_atlas.search(text, k=1)[0]["id"]
    similar = quick_atlas.similar(record, k=3)
    with TestClient(create_app(hashing_settings(quick_demo))) as client:
        rest_similar = client.post("/search/similar", json={"id": record, "k": 3}).json()["hits"]
        rest_search = client.post("/search", json={"text": text}).json()
    assert [h["id"] for h in similar] == [h["id"] for h in rest_similar] and record not in {h["id"] for h in similar}
    assert [h["rank"] for h in similar] == [1, 2, 3] and set(similar[0]) == set(quick_atlas.search(text, k=1)[0])
    assert quick_atlas.unknown_words(text) == rest_search["unknown_words"] != []
    assert quick_atlas.unknown_words(text)[0]["word"] == "haloo"
    with pytest.raises(BadInputError, match=r"^k must be between 1 and 100, not 1000$"):
        quick_atlas.similar(record, k=1000)


def test_atlas_is_exported_lazily_and_named_in_the_package_help():
    script = (
        "import sys, pathatlas\n"
        "assert 'pathatlas.ui.library' not in sys.modules, 'import pathatlas stays light'\n"
        "from pathatlas import Atlas\n"
        "from pathatlas.ui.library import Atlas as Library\n"
        "assert Atlas is Library and 'from pathatlas import Atlas' in pathatlas.__doc__\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    with pytest.raises(AttributeError, match="has no attribute 'Atlass'"):
        import pathatlas

        pathatlas.Atlass  # noqa: B018


def test_a_lone_surrogate_from_python_is_not_blamed_on_a_terminal(quick_demo):
    """``Atlas.search("bone \\ud800")`` said "check the terminal's encoding" to a notebook, which has none; the CLI,
    whose arguments are such text when the terminal is not UTF-8, still says it."""
    from pathatlas.settings import Settings
    from pathatlas.ui.cli_common import user_text

    with Atlas(quick_demo / "index", **quick(quick_demo)) as atlas, pytest.raises(BadInputError) as refused:
        atlas.search("bone \ud800")
    assert str(refused.value) == "the query holds a lone surrogate (\\ud800): not valid Unicode"
    with pytest.raises(BadInputError) as typed:
        user_text("bone \ud800", Settings(home=quick_demo / "home"))
    assert str(typed.value) == "the query is not valid UTF-8; check the terminal's encoding"


def test_similar_takes_the_hit_itself_and_a_file_read_to_its_end_says_so(quick_demo):
    """``atlas.similar(hits[0])`` raised "unhashable type: 'dict'"; a BytesIO given again, read to its end, was "not a
    readable image"."""
    with Atlas(quick_demo / "index", **quick(quick_demo)) as atlas:
        hit = atlas.search("koilocytes", k=1)[0]
        assert atlas.similar(hit, k=3) == atlas.similar(hit["id"], k=np.int64(3))
        with pytest.raises(BadInputError, match=r"similar takes a hit or its id \(hit\['id'\]\), not NoneType"):
            atlas.similar(None)
    photo = io.BytesIO(png_bytes(Image.new("RGB", (64, 64), "pink")))
    assert image_of(photo, 10_000).size == (64, 64)
    with pytest.raises(BadInputError, match=r"read to its end before \(file.seek\(0\) first\)"):
        image_of(photo, 10_000)
