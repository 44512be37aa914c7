"""What a tester's odd but ordinary input does: case folders saved from Excel, sources that yield nothing, a store
name that does not exist, filter values with commas, settings that do not parse, long upload names, form fields
checked as JSON bodies are, and file names several sources share. Fast encoder throughout."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pymupdf
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pathatlas.errors import BadInputError, PathAtlasError, UnknownNameError
from pathatlas.indexer.pipeline import Indexer
from pathatlas.retrieval.datasets import read_case_metadata
from pathatlas.retrieval.fusion import Ranker
from pathatlas.retrieval.index import Index
from pathatlas.settings import Settings, load_settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.uploads import safe_name
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.cli import parse_filters
from tests.helpers import hashing_settings, one_error_line, run_cli
from tests.servers import job_ended

COMMA_DIAGNOSIS = "pancreatic ductal adenocarcinoma, large duct type"


def case_folder(folder: Path, metadata: str, content: bytes, images: tuple[str, ...] = ("a.png",)) -> Path:
    """A case folder with ``images`` (real PNGs) and one metadata file (``cases.jsonl`` or ``labels.csv``)."""
    folder.mkdir(parents=True)
    for name in images:
        Image.new("RGB", (48, 48), (150, 40, 90)).save(folder / name)
    (folder / metadata).write_bytes(content)
    return folder


def book_with_chapters(path: Path) -> Path:
    """Four pages under two bookmarked chapters: pages 1-2 "1 Cells", pages 3-4 "2 Bone"."""
    doc = pymupdf.open()
    for text in ("Cells divide by mitosis.", "Mitosis has four phases.", "Osteoclasts resorb bone.", "Bone remodels."):
        doc.new_page(width=300, height=300).insert_text((20, 40), text, fontsize=9)
    doc.set_toc([[1, "1 Cells", 1], [2, "1.1 Division", 2], [1, "2 Bone", 3]])
    doc.save(path)
    doc.close()
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Settings:
    """An index made with the hashing encoder: the chaptered book, ``good.pdf`` in two folders, and cases whose
    diagnoses differ by what follows a comma."""
    root = tmp_path_factory.mktemp("robust")
    cases = root / "lib" / "pancreas"
    rows = [
        {"image": "a.png", "diagnosis": COMMA_DIAGNOSIS, "organ": "pancreas"},
        {"image": "b.png", "diagnosis": "pancreatic ductal adenocarcinoma", "organ": "pancreas"},
    ]
    case_folder(cases, "cases.jsonl", "\n".join(map(json.dumps, rows)).encode(), ("a.png", "b.png"))
    sources = [
        book_with_chapters(root / "lib" / "book.pdf"),
        make_pdf(root / "lib" / "one" / "good.pdf", 2, "one"),
        make_pdf(root / "lib" / "two" / "good.pdf", 2, "two"),
        cases,
    ]
    settings = hashing_settings(root)
    index = Index.open(settings.index_dir, settings, create=True)
    assert not Indexer(index, show_progress=False).add(sources).failed
    index.close()
    return settings


# -- case folders saved from Excel ------------------------------------------------------------------


def test_excel_case_files_are_read_or_refused_in_one_line_naming_the_file(tmp_path):
    bom = case_folder(tmp_path / "bom", "labels.csv", "image,diagnosis\na.png,granuloma\n".encode("utf-8-sig"))
    assert read_case_metadata(bom / "labels.csv") == [{"image": "a.png", "diagnosis": "granuloma"}]

    latin = case_folder(tmp_path / "latin", "labels.csv", "image,diagnosis\na.png,Müller\n".encode("latin-1"))
    with pytest.raises(BadInputError, match=r"latin/labels.csv is not UTF-8 text .*save it as UTF-8") as error:
        read_case_metadata(latin / "labels.csv")
    assert "\n" not in str(error.value)
    jsonl = case_folder(tmp_path / "jsonl", "cases.jsonl", '{"image": "a.png", "organ": "Müller"}\n'.encode("cp1252"))
    with pytest.raises(BadInputError, match=r"jsonl/cases.jsonl is not UTF-8 text"):
        read_case_metadata(jsonl / "cases.jsonl")

    extra = case_folder(tmp_path / "extra", "labels.csv", b"image,diagnosis\na.png,adenocarcinoma,lung\n")
    with pytest.raises(BadInputError, match=r"line 2 has 3 fields, the header 2: put values that hold a comma in"):
        read_case_metadata(extra / "labels.csv")

    row = {"image": "a.png", "organ": ["lung", "liver"], "stage": 3, "margin": True, "note": None, "grade": [" "]}
    lists = case_folder(tmp_path / "lists", "cases.jsonl", json.dumps(row).encode())
    assert read_case_metadata(lists / "cases.jsonl") == [
        {"image": "a.png", "organ": "lung, liver", "stage": "3", "margin": "true"}
    ]
    nested = case_folder(tmp_path / "nested", "cases.jsonl", json.dumps({"image": "a.png", "x": {"y": 1}}).encode())
    with pytest.raises(BadInputError, match=r"line 1 field 'x' is a JSON object"):
        read_case_metadata(nested / "cases.jsonl")


def test_a_folder_that_cannot_be_read_fails_alone_and_the_run_goes_on(tmp_path):
    latin = case_folder(tmp_path / "latin", "labels.csv", "image,diagnosis\na.png,Müller\n".encode("latin-1"))
    good = case_folder(tmp_path / "good", "labels.csv", b"image,diagnosis\na.png,granuloma\n")
    pdf = make_pdf(tmp_path / "book.pdf", 1, "v0")
    result = run_cli("index", pdf, latin, good, "--index", tmp_path / "index", "--json", home=tmp_path / "home")
    one_error_line(result, "labels.csv is not UTF-8 text")
    report = json.loads(result.stdout)
    assert [s["status"] for s in report] == ["indexed", "failed", "indexed"], report


def test_an_unexpected_error_reading_a_folder_fails_that_folder_alone(tmp_path):
    """A name longer than the file system allows raises OSError from the path checks, not one of PathAtlas's errors
    (a NUL, which did the same, is now dropped with the other control characters when metadata is read)."""
    odd = case_folder(tmp_path / "odd", "cases.jsonl", json.dumps({"image": "a" * 300 + ".png"}).encode())
    good = case_folder(tmp_path / "good", "labels.csv", b"image,diagnosis\na.png,granuloma\n")
    index = Index.open(tmp_path / "index", hashing_settings(tmp_path), create=True)
    report = Indexer(index, show_progress=False).add([odd, good])
    assert [s.status for s in report.sources] == ["failed", "indexed"]
    assert "File name too long" in report.sources[0].problems[0]


# -- a source that yields nothing --------------------------------------------------------------------


def test_a_source_that_yields_nothing_fails_with_its_problems(tmp_path):
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    (unreadable / "a.png").write_text("text named .png")
    (unreadable / "cases.jsonl").write_text(json.dumps({"image": "a.png"}) + "\n")
    empty = case_folder(tmp_path / "empty", "cases.jsonl", b"")
    index = Index.open(tmp_path / "index", hashing_settings(tmp_path), create=True)
    report = Indexer(index, show_progress=False).add([unreadable, empty])
    assert [s.status for s in report.sources] == ["failed", "failed"]
    first, second = (s.problems for s in report.sources)
    assert first[0].startswith(f"nothing to index in {unreadable}: ") and "not a readable image" in first[0]
    assert any("a.png is not a readable image" in p for p in first[1:]), "every problem stays listed"
    assert second == [f"nothing to index in {empty}: it holds no records"]
    assert index.manifest == {}, "nothing was committed for them"


# -- an unknown store -----------------------------------------------------------------------------------


def test_an_unknown_store_is_refused_before_the_index_folder_is_written(tmp_path):
    with pytest.raises(UnknownNameError, match="unknown store 'bogus'"):
        Index.open(tmp_path / "new", hashing_settings(tmp_path), create=True, store="bogus")
    assert not (tmp_path / "new").exists()
    assert Index.open(tmp_path / "new", hashing_settings(tmp_path), create=True).meta.store == "faiss"


# -- CLI filters ----------------------------------------------------------------------------------------


def test_cli_filter_values_keep_their_commas_and_a_repeated_field_adds_alternatives():
    assert parse_filters([f"diagnosis={COMMA_DIAGNOSIS}", "organ=lung", "organ = liver", "chapter=1 Cells"]) == {
        "diagnosis": COMMA_DIAGNOSIS,
        "organ": ["lung", "liver"],
        "chapter": "1 Cells",
    }
    fields = "kind, source, organ, diagnosis, case, section, chapter"  # those REST takes; fingerprint is the stores'
    with pytest.raises(BadInputError) as error:
        parse_filters(["colour=red"])
    assert str(error.value) == f"unknown filter field 'colour'; use {fields}"


def test_cli_filters_find_a_diagnosis_with_a_comma_and_a_chapter(library):
    home, index = library.home, library.index_dir

    def found(*filters: str) -> list[dict]:
        args = [f for name in filters for f in ("--filter", name)]
        result = run_cli(
            "search", "pancreatic adenocarcinoma mitosis bone", *args, "--index", index, "--json", home=home
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    hits = found(f"diagnosis={COMMA_DIAGNOSIS}")
    assert [h["payload"]["diagnosis"] for h in hits] == [COMMA_DIAGNOSIS]
    both = found(f"diagnosis={COMMA_DIAGNOSIS}", "diagnosis=pancreatic ductal adenocarcinoma")
    assert len(both) == 2
    assert {h["citation"]["page"] for h in found("chapter=2 Bone")} == {3, 4}
    assert {h["citation"]["page"] for h in found("chapter=2")} == {3, 4}, "a chapter by its number"
    assert {h["citation"]["page"] for h in found("chapter=BONE")} == {3, 4}, "or by a part of its title"
    one_error_line(
        run_cli("search", "bone", "--filter", "chapter=9 Teeth", "--index", index, home=home),
        "no chapter '9 Teeth' in index",
    )


# -- settings that do not parse -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "PATHATLAS_CORS_ORIGINS",
            "notjson",
            "bad setting PATHATLAS_CORS_ORIGINS='notjson': Value error, 'notjson' is no origin",
        ),
        ("PATHATLAS_SOURCES", "py:foo", "bad setting PATHATLAS_SOURCES='py:foo': Value error, name each source as"),
        ("PATHATLAS_WEIGHT_BM25", "nan", "bad setting PATHATLAS_WEIGHT_BM25='nan': Input should be a finite number"),
        ("PATHATLAS_WEIGHT_JOINT", "-1", "bad setting PATHATLAS_WEIGHT_JOINT='-1': Input should be greater than"),
    ],
)
def test_a_setting_that_does_not_parse_is_one_line_naming_it(name, value, message, tmp_path, monkeypatch):
    monkeypatch.setenv(name, value)
    with pytest.raises(BadInputError, match=f"^{message}"):
        load_settings()
    one_error_line(run_cli("search", "bone", "--index", tmp_path, home=tmp_path, **{name: value}), message)


def test_a_ranker_file_that_is_not_one_is_one_line_naming_the_setting(library, tmp_path):
    for body in ("not json", '{"pin": null}', '{"weights": {"bm25": "high"}}', '{"weights": {"bm25": NaN}}'):
        (tmp_path / "ranker.json").write_text(body)
        with pytest.raises(BadInputError, match=r"^bad setting PATHATLAS_RANKER_FILE='.*ranker.json': not a ranker"):
            Ranker.load(tmp_path / "ranker.json")
    env = {"PATHATLAS_RANKER_FILE": str(tmp_path / "ranker.json")}
    result = run_cli("search", "bone", "--index", library.index_dir, home=library.home, **env)
    one_error_line(result, "bad setting PATHATLAS_RANKER_FILE=")
    (tmp_path / "ranker.json").write_text('{"weights": {"bm25": 1, "dense": 2}}')
    assert Ranker.load(tmp_path / "ranker.json").weights == {"bm25": 1.0, "dense": 2.0}


# -- the REST API ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(library, tmp_path_factory):
    """The service over a copy of the library (jobs write into it)."""
    root = tmp_path_factory.mktemp("robust-api")
    shutil.copytree(library.index_dir, root / "index")
    settings = library.model_copy(update={"home": root / "home", "index": root / "index"})
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 120, 120)).save(buffer, "PNG")
    return buffer.getvalue()


def finished(client, upload: tuple[str, bytes]) -> dict:
    """The job of an upload, once it has ended."""
    job = client.post("/jobs", files={"file": upload})
    assert job.status_code == 202, job.text
    return job_ended(client, job.json()["id"])


def zipped_case_folder(labels: bytes, image: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("labels.csv", labels)
        archive.writestr("a.png", image)
    return buffer.getvalue()


def test_an_upload_with_a_long_name_keeps_its_suffix(client, tmp_path):
    cut = "a" * 58 + "\u2026" + "a" * 28 + "~eaf1675c.pdf"
    assert safe_name("a" * 300 + ".pdf", "upload") == cut, "cut, keeping its end, with a tag of the name sent"
    long_suffix = safe_name("report." + "x" * 300, "upload")
    assert long_suffix == "report." + "x" * 53 + "\u2026" + "x" * 30 + "~db6424cd", "a long suffix is no type"
    pdf = make_pdf(tmp_path / "long.pdf", 1, "long").read_bytes()
    assert finished(client, ("a" * 300 + ".pdf", pdf))["status"] == "done"


def test_case_folder_jobs_that_cannot_be_indexed_fail_saying_why(client):
    labels = "image,diagnosis\na.png,Müller\n".encode("latin-1")
    latin = finished(client, ("latin.zip", zipped_case_folder(labels, png())))
    assert latin["status"] == "failed" and "labels.csv is not UTF-8 text" in latin["error"], latin
    text = finished(client, ("text.zip", zipped_case_folder(b"image\na.png\n", b"text named .png")))
    assert text["status"] == "failed" and text["error"].startswith("nothing to index in ") and "a.png" in text["error"]


def refused_at(response, *loc: str | int) -> str:
    """The message of a form's one refused field, checked to be a 422 at ``loc`` (as a JSON body's field is)."""
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert tuple(error["loc"]) == loc, error
    return error["msg"]


def test_image_forms_check_options_and_filters_as_the_json_bodies_do(client):
    image = {"image": ("slide.png", png())}
    long = client.post("/ask/image", files=image, data={"question": "Which?", "options": json.dumps(["x" * 5000, "y"])})
    assert refused_at(long, "body", "options", 0).startswith("String should have at most 4000")
    one = client.post("/ask/image", files=image, data={"question": "Which?", "options": '["x"]'})
    assert "one option is no choice" in refused_at(one, "body", "options")
    kinds = "page, passage, figure, case"
    for path, words in (("/search/image", {"text": "Which?"}), ("/ask/image", {"question": "Which?"})):
        banana = client.post(path, files=image, data={**words, "filters": '{"kind": "banana"}'})
        assert refused_at(banana, "body", "filters") == f"unknown kind 'banana'; use {kinds}"
        colour = client.post(path, files=image, data={**words, "filters": '{"colour": "red"}'})
        assert refused_at(colour, "body", "filters").startswith("unknown filter field 'colour'; use")
        number = client.post(path, files=image, data={**words, "filters": '{"organ": 3}'})
        assert refused_at(number, "body", "filters").startswith("filter 'organ' takes text")


def test_a_name_several_sources_share_is_refused_naming_their_ids(client, library):
    listed = {s["source"]: s["id"] for s in client.get("/sources").json() if s["source"].endswith("good.pdf")}
    assert sorted(listed) == ["one/good.pdf", "two/good.pdf"], "named by the folders telling them apart"
    response = client.delete("/sources/good.pdf")
    detail = response.json()["detail"]
    assert response.status_code == 400 and all(f"{name} (id {i})" in detail for name, i in listed.items()), detail
    assert str(library.index_dir.parent) not in detail and "lib/" not in detail, "never a server path"
    index = Index.open(library.index_dir, library)
    with pytest.raises(PathAtlasError, match=r"'good.pdf' matches several sources: .*/one/good.pdf \(id \w+\), .*id"):
        index.resolve_source("good.pdf")


# -- bench arguments ------------------------------------------------------------------------------------


def test_bench_crash_needs_at_least_one_trial(tmp_path):
    one_error_line(
        run_cli("bench", "crash", "--trials", "0", "--stores", "faiss", home=tmp_path), "--trials 0: give at"
    )


def test_bench_search_sizes_must_be_numbers(tmp_path):
    one_error_line(
        run_cli("bench", "search", "--records", "abc", home=tmp_path), "--records 'abc': give comma-separated"
    )


def test_an_image_too_small_to_see_anything_in_is_refused_as_a_query_or_question(tmp_path):
    """A 1x1 white PNG came back "Secretory meningioma, 0.87, settled": its nearest cases agreed by chance."""
    from pathatlas.agent.questions import Question
    from pathatlas.retrieval.search import Query

    dot = Image.new("RGB", (1, 1), "white")
    with pytest.raises(BadInputError, match=r"^the image is 1x1 pixels: too small to compare"):
        Query(image=dot).validate()
    with pytest.raises(BadInputError, match="too small to compare"):
        Question("Which diagnosis best fits this slide?", ["angiosarcoma", "meningioma"], image=dot).validate()
    Query(image=Image.new("RGB", (32, 48))).validate()  # the smallest image compared


def test_a_transparent_image_is_seen_over_white_as_a_viewer_shows_it(tmp_path):
    """Dropping the alpha channel kept the colour transparent pixels hide: a fully transparent PNG looked like the
    picture under it."""
    from pathatlas.retrieval.images import open_image

    picture = Image.new("RGBA", (64, 64), (200, 30, 30, 0))
    picture.paste((10, 10, 200, 255), (0, 0, 32, 64))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    seen = open_image(buffer.getvalue(), 10_000)
    assert seen.mode == "RGB" and seen.getpixel((10, 10)) == (10, 10, 200) and seen.getpixel((50, 10)) == (255,) * 3


def test_chapters_list_in_book_order_and_are_named_by_number_or_title():
    """One ordering for REST's chapter facet and the web UI's menu: "2 ..." before "10 ...", unnumbered after."""
    from pathatlas.retrieval.search import Chapters

    chapters = Chapters({c: {c} for c in ["10 Muscle Tissue", "Appendix", "2 Bone Tissue", "Preface"]})
    assert chapters.ordered() == ["2 Bone Tissue", "10 Muscle Tissue", "Appendix", "Preface"]
    assert chapters.named("chapter 10") == ["10 Muscle Tissue"] and chapters.named("bone") == ["2 Bone Tissue"]
    assert chapters.named("tissue") == [], "a part two chapters share names neither"
