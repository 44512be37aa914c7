"""Re-reading a source (a newer reader, a fixed label, a corrected page) encodes only the texts that changed: every
other entry takes the text vectors of the committed record of the very same text, and ends as a build from scratch
makes it. Forced runs, indexes that may hold another model's vectors and stores keeping fewer bits encode all."""

from __future__ import annotations

import csv
import errno
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathatlas.indexer import pipeline
from pathatlas.indexer.pipeline import Indexer
from pathatlas.indexer.sources import SOURCES
from pathatlas.indexer.sources.pdf import PdfSource
from pathatlas.retrieval.encoders.base import Embeddings, Encoder, l2_normalise
from pathatlas.retrieval.index import META_FILE, Index
from pathatlas.retrieval.records import Entry, Payload
from pathatlas.retrieval.search import Query, Searcher
from pathatlas.settings import Settings
from tests.helpers import hashing_settings

ENCODER = f"py:{__name__}.CountingEncoder"


class CountingEncoder(Encoder):
    """Texts as hashed words, images as their pixels' mean colours; the joint space filled by both, as the default
    encoder's. Keeps every text and image it encoded (its one instance is shared, as the registry keeps one per
    name)."""

    name = ENCODER
    dims = {"text": 16, "visual": 12, "joint": 12}
    text_spaces = ("text", "joint")
    image_spaces = ("visual", "joint")

    def __init__(self, settings: Settings):
        self.texts: list[str] = []
        self.images = 0

    def revisions(self) -> dict[str, str]:
        return {"text": "hashed words 1", "visual": "quadrant means 1"}

    def encode_text(self, texts) -> Embeddings:
        self.texts += texts
        rows = np.full((len(texts), 16), 1e-3, dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            for word in text.lower().split():
                row[hashlib.blake2b(word.encode(), digest_size=1).digest()[0] % 16] += 1.0
        return {"text": l2_normalise(rows), "joint": l2_normalise(rows[:, 4:])}

    def encode_image(self, images) -> Embeddings:
        self.images += len(images)
        rows = [np.asarray(image.convert("RGB").resize((2, 2), Image.BOX), np.float32).ravel() for image in images]
        vectors = l2_normalise(np.array(rows).reshape(len(images), 12) + 1.0)
        return {"visual": vectors, "joint": vectors}


PAGES = [
    ["mitosis divides the nucleus of somatic cells", "meiosis halves the chromosomes of gametes"],
    ["the alveoli exchange oxygen with capillaries", "surfactant keeps the small alveoli open while breathing out"],
    ["osteoblasts lay down new bone matrix", "osteoclasts resorb old bone along the trabecular surfaces"],
]
"""Each page's two paragraphs: two passages of their own (``passage_max_words``), each with a text vector."""


def write_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A text PDF of ``pages``, each a list of paragraphs set far apart."""
    import pymupdf

    doc = pymupdf.open()
    for paragraphs in pages:
        page = doc.new_page(width=300, height=400)
        for number, paragraph in enumerate(paragraphs):
            page.insert_text((20, 40 + 150 * number), paragraph, fontsize=9)
    doc.save(path)
    doc.close()
    return path


def small_passages(tmp_path: Path, **extra) -> Settings:
    """The counting encoder, and passages of a paragraph each that get text vectors of their own."""
    return hashing_settings(
        tmp_path, encoder=ENCODER, passage_vectors=True, passage_min_words=1, passage_max_words=10, **extra
    )


@pytest.fixture(params=["faiss", "qdrant"])
def settings(tmp_path, request) -> Settings:
    """Each store: FAISS gives its vectors back from its snapshot, Qdrant from records its pointer hides."""
    return small_passages(tmp_path, store=request.param)


@pytest.fixture
def newer_reader(monkeypatch):
    """What a release whose readers changed does: each one's ``records_version`` raised, so every source is read
    again."""

    def bump() -> None:
        for reader in SOURCES.values():
            monkeypatch.setattr(reader, "records_version", reader.records_version + 1)

    return bump


def upgrade(settings: Settings, force: bool = False) -> tuple[Index, list[str], int, list[str]]:
    """``pathatlas index --index X`` in process: the index, the texts and the count of images encoded, the
    sources' statuses."""
    index = Index.open(settings.index_dir, settings, create=True)
    texts, images = len(index.encoder.texts), index.encoder.images
    report = Indexer(index, show_progress=False).add_held(force=force)
    statuses = [s.status for s in report.sources]
    return index, index.encoder.texts[texts:], index.encoder.images - images, statuses


def build(settings: Settings, path: Path) -> tuple[Index, list[str]]:
    """``pathatlas index PATH``: the index and the texts encoded."""
    index = Index.open(settings.index_dir, settings, create=True)
    texts = len(index.encoder.texts)
    report = Indexer(index, show_progress=False).add([path])
    assert [s.status for s in report.sources] == ["indexed"], report.sources
    return index, index.encoder.texts[texts:]


def records(index: Index) -> dict[str, tuple[dict, dict[str, list]]]:
    """Record id to its payload and vectors, of every record the committed index holds."""
    scanned = dict(index.store.scan())
    stored = index.raw_store.vectors(sorted(scanned))
    return {rid: (payload, {s: v.tolist() for s, v in stored[rid].items()}) for rid, payload in scanned.items()}


def assert_as_from_scratch(index: Index, settings: Settings, path: Path, tmp_path: Path) -> None:
    """The index holds exactly what a build from scratch of ``path`` holds: ids, payloads and every vector."""
    scratch, _ = build(settings.model_copy(update={"index": tmp_path / "scratch"}), path)
    assert records(index) == records(scratch)


def test_a_newer_reader_of_an_unchanged_book_encodes_no_text(settings, tmp_path, newer_reader):
    pdf = write_pdf(tmp_path / "book.pdf", PAGES)
    _, first = build(settings, pdf)
    assert len(first) == 9  # three pages and their six passages

    newer_reader()
    index, texts, _, statuses = upgrade(settings)

    assert (statuses, texts) == (["indexed"], [])
    assert index.manifest[str(pdf)]["records_version"] == PdfSource.records_version
    (hit,) = Searcher(index).search(Query(text="surfactant alveoli", k=1))
    assert hit.payload.page == 2 and hit.payload.text_hash
    assert "text_hash" not in hit.to_dict()["payload"], "the indexer's key is no field a client reads"
    assert_as_from_scratch(index, settings, pdf, tmp_path)


def test_a_corrected_passage_is_encoded_with_its_page_and_its_neighbours_are_not(settings, tmp_path):
    pdf = write_pdf(tmp_path / "book.pdf", PAGES)
    build(settings, pdf)

    corrected = [
        PAGES[0],
        [PAGES[1][0], "surfactant keeps the small alveoli from collapsing on breathing out"],
        PAGES[2],
    ]
    write_pdf(pdf, corrected)
    index, texts, _, statuses = upgrade(settings)

    assert statuses == ["indexed"]
    assert sorted(texts) == sorted(
        ["surfactant keeps the small alveoli from collapsing on breathing out", "\n".join(corrected[1])]
    )
    assert_as_from_scratch(index, settings, pdf, tmp_path)


def case_folder(folder: Path, diagnoses: list[str], sides: list[int] | None = None) -> Path:
    """One square noise image a case (48 pixels a side, or each of ``sides``), each with its diagnosis
    (``labels.csv``)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "diagnosis"])
        for number, diagnosis in enumerate(diagnoses):
            side = sides[number] if sides else 48
            pixels = np.random.default_rng(number).integers(0, 255, (side, side, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"img{number}.png")
            writer.writerow([f"img{number}.png", diagnosis])
    return folder


def test_a_fixed_label_encodes_its_text_alone_and_images_keep_their_joint_vectors(tmp_path):
    settings = small_passages(tmp_path)
    folder = case_folder(tmp_path / "cases", ["adenocarcinoma", "squamous carcinoma", "benign lung"])
    build(settings, folder)

    case_folder(folder, ["adenocarcinoma", "squamous cell carcinoma", "benign lung"])
    index, texts, images, statuses = upgrade(settings)

    assert (statuses, texts, images) == (["indexed"], ["squamous cell carcinoma"], 0)
    assert_as_from_scratch(index, settings, folder, tmp_path)  # each joint vector its image's, as encoded


def test_a_picture_s_joint_vector_is_never_lent_as_a_text_s(tmp_path):
    """A case image's joint vector is its picture's: an entry of the same text without a picture gets its text's."""
    settings = small_passages(tmp_path)
    folder = case_folder(tmp_path / "cases", ["adenocarcinoma"])
    index, _ = build(settings, folder)
    key = next(iter(index.manifest))
    indexer = Indexer(index, show_progress=False)
    indexer._earlier = indexer._reusable(key, index.manifest[key], force=False)
    unpictured = Entry("new", Payload(kind="passage", source=key), text="adenocarcinoma")

    (stored,) = indexer.encode([unpictured], indexer._earlier_vectors([unpictured]))

    own = index.encoder.encode_text(["adenocarcinoma"])
    assert index.encoder.texts[-2:] == ["adenocarcinoma"] * 2  # encoded, not lent
    for space in ("text", "joint"):
        np.testing.assert_array_equal(stored.vectors[space], own[space][0])


def drop_revisions(settings: Settings) -> None:
    """As an index written before revisions were recorded: its vectors may be any model's."""
    meta = settings.index_dir / META_FILE
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "revisions": {}}))


@pytest.mark.parametrize(
    ("why", "extra", "change"),
    [
        ("forced", {}, None),
        ("no recorded revisions", {}, drop_revisions),
        ("8-bit store", {"faiss_index": "hnsw-sq8", "hnsw_threshold": 1}, None),
    ],
)
def test_every_text_is_encoded_where_stored_vectors_may_not_be_the_encoder_s(
    tmp_path, newer_reader, why, extra, change
):
    settings = small_passages(tmp_path, **extra)
    pdf = write_pdf(tmp_path / "book.pdf", PAGES)
    _, first = build(settings, pdf)
    if change:
        change(settings)

    newer_reader()
    _, texts, _, statuses = upgrade(settings, force=why == "forced")

    assert statuses == ["indexed"] and sorted(texts) == sorted(first), why


def test_a_run_failing_midway_keeps_the_committed_index_and_the_next_reuses_it(
    settings, tmp_path, newer_reader, monkeypatch
):
    pdf = write_pdf(tmp_path / "book.pdf", PAGES)
    index, _ = build(settings, pdf)
    committed = records(index)
    index.close()
    monkeypatch.setattr(pipeline, "ENTRY_BATCH", 2)
    upserts: list[str] = []

    def disk_full_at_the_second_batch(label: str) -> None:
        upserts.append(label)
        if upserts.count("store upsert") == 2:
            raise OSError(errno.ENOSPC, "No space left on device")

    newer_reader()
    monkeypatch.setattr(pipeline, "crash_point", disk_full_at_the_second_batch)
    index, texts, _, statuses = upgrade(settings)
    assert statuses == ["failed"] and texts == []
    index.close()
    monkeypatch.setattr(pipeline, "crash_point", lambda label: None)

    index = Index.open(settings.index_dir, settings)
    assert records(index) == committed
    (hit,) = Searcher(index).search(Query(text="osteoclasts", k=1))
    assert hit.payload.page == 3
    index.close()
    index, texts, _, statuses = upgrade(settings)
    assert (statuses, texts) == (["indexed"], [])
    assert_as_from_scratch(index, settings, pdf, tmp_path)
