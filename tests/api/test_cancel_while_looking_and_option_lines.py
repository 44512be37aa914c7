"""A REST job's cancel seen while a source is looked at (its fingerprint: a case folder's every listed image hashed,
minutes for a large folder, which the cancel waited for), and a question pasted as its option lines alone, with a
blank first line, asked as the blank question it is at every door (REST /ask refused it with a 400 of its own where a
blank question is a 422). Fast encoders: no model is the point."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest
from PIL import Image

from pathatlas.errors import BadInputError
from pathatlas.indexer.pipeline import Cancelled, Indexer
from pathatlas.indexer.sources import fingerprints
from pathatlas.indexer.sources.cases import CaseFolderSource
from pathatlas.indexer.sources.fingerprints import HASH_BLOCK, stoppable
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.retrieval.index import Index
from pathatlas.ui.bench_crash import make_pdf
from pathatlas.ui.library import Atlas
from pathatlas.ui.mcp_server import build_server
from pathatlas.ui.tools import Toolbox
from tests.api.test_doors_agree import mcp_error
from tests.api.test_rest_questions_forms_and_cancel import errors_of, png
from tests.helpers import hashing_settings, one_error_line, run_cli, two_cases
from tests.indexer.test_incremental_cases import ENCODER as PIXEL_ENCODER
from tests.servers import job_ended
from tests.uploads import AUTH, api_settings, book_service, upload, zipped

LOOKED_AT = 40
"""Images of the case folder a job is cancelled while looking at."""


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("s37-look")


@pytest.fixture(scope="module")
def client(root):
    """A service on a two-page book, with an encoder that searches by image too."""
    with book_service(root, "look", encoder=PIXEL_ENCODER) as served:
        yield served


def case_members(folder: str, images: int) -> list[tuple[str, bytes]]:
    """Zip members of a case folder ``folder`` of ``images`` listed images, one case each."""
    names = [f"{folder}-{n:02d}.png" for n in range(images)]
    labels = "image,case,diagnosis\n" + "".join(f"{name},{folder}-{n},granuloma\n" for n, name in enumerate(names))
    return [
        (f"atlas/{folder}/labels.csv", labels.encode()),
        *((f"atlas/{folder}/{n}", png((k, 80, 160))) for k, n in enumerate(names)),
    ]


# -- 1. a cancel while a source is looked at ------------------------------------------------------------------------
def test_a_cancel_asked_while_a_case_folder_s_images_are_hashed_stops_the_job_there(client, monkeypatch):
    """An upload of two case folders: the first is committed, then the second is looked at (each listed image hashed
    for its fingerprint), and the cancel asked while its first image is hashed was seen only once every image had
    been. The job ends there, and the first folder's commit is rolled back: the index is as it was."""
    jobs = client.app.state.jobs
    before = client.get("/sources").json()
    hashed, committed, looking, cancelled = [], {}, threading.Event(), threading.Event()
    named = fingerprints.utf8_name

    def held_at_the_first_image(path: Path) -> str:
        """The name of each file hashed (``hash_files``); the second folder's first image waits for the cancel."""
        if path.parent.name == "second" and path.suffix == ".png":
            hashed.append(path.name)
            if not looking.is_set():  # the job's progress: a source's units are complete once it is committed
                committed.update((Path(k).name, u) for job in list(jobs.by_id.values()) for k, u in job.units.items())
            looking.set()
            assert cancelled.wait(30)
        return named(path)

    monkeypatch.setattr(fingerprints, "utf8_name", held_at_the_first_image)
    try:
        zip_file = zipped(*case_members("first", 2), *case_members("second", LOOKED_AT))
        job_id = upload(client, "atlas.zip", zip_file).json()["id"]
        assert looking.wait(60), job_ended(client, job_id)
        assert client.delete(f"/jobs/{job_id}", headers=AUTH).status_code == 202
    finally:
        cancelled.set()
    ended = job_ended(client, job_id, timeout=30)
    assert (ended["status"], ended["error"]) == ("cancelled", None)
    assert committed["first"] == (2, 2), committed
    assert hashed == ["second-00.png"], f"hashed {len(hashed)} of {LOOKED_AT} images after the cancel"
    assert client.get("/sources").json() == before


def test_a_run_stopped_while_a_source_is_looked_at_keeps_what_it_committed(tmp_path):
    """Without an upload to roll back (the library, the CLI), the sources committed before the stop stay committed,
    and the one looked at is neither indexed nor failed: the run raises ``Cancelled`` as a progress callback's does."""
    settings = api_settings(tmp_path)
    first, second = two_cases(tmp_path / "first"), two_cases(tmp_path / "second")
    looks = []

    def stop_in_the_second(key: str) -> None:
        looks.append(Path(key).name)
        if Path(key).name == "second":
            raise Cancelled("stopped")

    index = Index.open(settings.index_dir, settings, create=True)
    with pytest.raises(Cancelled):
        Indexer(index, show_progress=False, on_look=stop_in_the_second).add([first, second])
    assert "second" in looks and list(index.manifest) == [str(first.resolve())]
    index.close()
    reopened = Index.open(settings.index_dir, settings)
    assert list(reopened.manifest) == [str(first.resolve())] and reopened.manifest[str(first.resolve())]["entries"] == 2
    reopened.close()


def test_a_pdf_is_looked_at_a_megabyte_at_a_time(tmp_path):
    """A PDF's look is one file hashed: a large one (a raised upload cap, a slow disk) may stop between megabytes."""
    pdf = make_pdf(tmp_path / "big.pdf", 1, "big")
    with pdf.open("ab") as handle:
        handle.write(os.urandom(3 * fingerprints.HASH_BLOCK))
    asked = []

    def stop_at_the_second_megabyte() -> None:
        asked.append(len(asked))
        if len(asked) == 2:
            raise Cancelled("stopped")

    with stoppable(stop_at_the_second_megabyte), pytest.raises(Cancelled):
        PdfSource(pdf, api_settings(tmp_path)).fingerprint()
    assert asked == [0, 1]


def listed_only(folder: Path, rows: int) -> Path:
    """``folder`` made a case folder whose labels.csv lists ``rows`` images, none of them there (no image to hash:
    what is timed is the rows' look)."""
    folder.mkdir()
    lines = "".join(f"img{n}.png,C{n},granuloma\n" for n in range(rows))
    (folder / "labels.csv").write_text("image,case,diagnosis\n" + lines, encoding="utf-8")
    return folder


@pytest.mark.parametrize("step", ["_rows", "_image_paths"])
def test_a_look_at_a_long_metadata_file_may_stop_within_its_rows_and_names(tmp_path, monkeypatch, step):
    """Its rows read and their names resolved took seconds each at 200,000 rows, with no chance to stop: the first
    came after both. Each step is given its own chance: the look stops inside it, before the step after it."""
    folder = listed_only(tmp_path / "cases", 2_000)
    asked, inside = [], []
    own = getattr(CaseFolderSource, step)

    def marked(source, *args):
        inside.append(True)
        try:
            return own(source, *args)
        finally:
            inside.pop()

    monkeypatch.setattr(CaseFolderSource, step, marked)

    def stop_at_the_hundredth_inside() -> None:
        if inside:
            asked.append(len(asked))
            if len(asked) == 100:
                raise Cancelled("stopped")

    with stoppable(stop_at_the_hundredth_inside), pytest.raises(Cancelled):
        CaseFolderSource(folder, api_settings(tmp_path)).fingerprint()


def test_a_look_resolves_the_listed_names_once(tmp_path, monkeypatch):
    """Resolved three times a look (for the hashes, the files found elsewhere, the notes): 7 s each at 200,000 rows."""
    folder = listed_only(tmp_path / "cases", 3)
    (folder / "moved").mkdir()
    Image.new("RGB", (48, 48)).save(folder / "moved" / "img0.png")  # found elsewhere, and no note of its own
    resolved, resolve = [], CaseFolderSource._image_paths

    def counted(source, rows):
        resolved.append(len(rows))
        return resolve(source, rows)

    monkeypatch.setattr(CaseFolderSource, "_image_paths", counted)
    source = CaseFolderSource(folder, api_settings(tmp_path))
    source.fingerprint()
    assert resolved == [3]
    assert source._looked.twins == {(folder / "img0.png").resolve(): "moved/img0.png"}
    assert source._looked.notes == []


def test_a_content_hash_is_what_it_was_before_it_could_stop(tmp_path):
    """Manifests keep ``content``: hashed by blocks to stop between them, it must stay what ``file_digest`` made (of a
    case folder: its metadata file, then the files its rows list)."""
    folder = two_cases(tmp_path / "cases")
    (folder / "large.png").write_bytes(os.urandom(HASH_BLOCK * 2 + 12345))  # hashed in three blocks
    with (folder / "labels.csv").open("a") as labels:
        labels.write("large.png,C-3,granuloma\n")
    digest = hashlib.blake2b(digest_size=16)
    for name in ["labels.csv", "c0.png", "c1.png", "large.png"]:
        with (folder / name).open("rb") as handle:
            digest.update(name.encode() + b"\0" + hashlib.file_digest(handle, "blake2b").digest())
    assert CaseFolderSource(folder, hashing_settings(tmp_path)).content_hash() == digest.hexdigest()


# -- 2. a question pasted as its option lines alone ------------------------------------------------------------------
OPTIONS = ["Koilocytes", "Mitosis"]
ONLY_OPTION_LINES = ["\nA. Koilocytes\nB. Mitosis", "  \n\nA) Koilocytes\nB) Mitosis\n"]


@pytest.mark.parametrize("pasted", ONLY_OPTION_LINES)
def test_rest_ask_refuses_option_lines_alone_as_a_blank_question(client, pasted):
    """A 400, "option lines were not read: no question text before them", where a blank question is a 422."""
    blank = errors_of(client.post("/ask", json={"question": "", "options": OPTIONS}))
    refused = client.post("/ask", json={"question": pasted})
    assert errors_of(refused) == blank
    assert refused.json()["detail"][0]["input"] == pasted, "the question as it was sent"


@pytest.mark.parametrize("pasted", ONLY_OPTION_LINES)
def test_rest_ask_image_asks_option_lines_alone_what_the_image_shows(client, pasted):
    """Beside an image a blank question asks what it shows, its options what it may show: so do its option lines."""
    image = {"image": ("slide.png", png((200, 80, 160)))}
    blank = client.post("/ask/image", data={"question": "", "options": json.dumps(OPTIONS)}, files=image)
    asked = client.post("/ask/image", data={"question": pasted}, files=image)
    assert blank.status_code == asked.status_code == 200, asked.text
    assert [o["text"] for o in asked.json()["options"]] == OPTIONS and asked.json()["options_from_question"] is True
    assert (asked.json()["choice"], asked.json()["question"]) == (blank.json()["choice"], blank.json()["question"])


def test_mcp_refuses_option_lines_alone_as_a_blank_question(client):
    server = build_server(Toolbox(client.app.state.engine))
    blank = mcp_error(server, "ask", {"question": "", "options": OPTIONS})
    assert mcp_error(server, "ask", {"question": ONLY_OPTION_LINES[0]}) == blank
    assert blank.endswith("the question is empty: options without a question"), blank


def test_the_library_refuses_option_lines_alone_as_a_blank_question(root):
    with Atlas(root / "index", home=root / "home", encoder=PIXEL_ENCODER, case_keypoints=False) as atlas:
        with pytest.raises(BadInputError) as blank:
            atlas.ask("", OPTIONS)
        with pytest.raises(BadInputError) as pasted:
            atlas.ask(ONLY_OPTION_LINES[0])
    assert str(pasted.value) == str(blank.value) == "the question is empty: options without a question"


def test_cli_ask_refuses_option_lines_alone_as_a_blank_question(root):
    def asked(*args):
        return run_cli("ask", *args, "--index", root / "index", home=root / "home", PATHATLAS_ENCODER=PIXEL_ENCODER)

    blank = one_error_line(asked("", "--option", OPTIONS[0], "--option", OPTIONS[1]))
    pasted = asked(ONLY_OPTION_LINES[0])
    assert one_error_line(pasted) == blank
    assert "the question is empty" in blank
    assert "read from the question" not in pasted.output, "no note of options read above the refusal"


def test_a_look_given_no_check_keeps_the_callers_own(tmp_path):
    """``Indexer`` passes ``stoppable(None)`` when it has no ``on_look``: that hid a check a caller set around it."""
    folder = listed_only(tmp_path / "cases", 20)

    def stop() -> None:
        raise Cancelled("stopped")

    with stoppable(stop), stoppable(None), pytest.raises(Cancelled):
        CaseFolderSource(folder, api_settings(tmp_path)).fingerprint()
