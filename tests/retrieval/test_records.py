"""The record model: the stored form round-trips, reads what older indexes wrote, and citations never show paths."""

from __future__ import annotations

from PIL import Image

from pathatlas.indexer.records import Case, Page, Passage
from pathatlas.retrieval.records import FILTER_FIELDS, Citation, Payload, source_id

IMAGE = Image.new("RGB", (8, 8))


def test_every_record_round_trips_through_its_stored_form():
    records = [
        Page("/srv/books/a.pdf", "f1", 3, "Squamous cells.", IMAGE, book="A", section="4 Tissues > 4.2 Epithelia"),
        Passage("/srv/books/a.pdf", "f1", 3, 0, "Squamous cells.", (1.0, 2.0, 3.0, 4.0), [(1.0, 2.0, 3.0, 4.0)]),
        Case("/srv/cases", "f2", "C1", [("c1.jpg", IMAGE)], "TB", "caseating granuloma", "tuberculosis", "lung"),
    ]
    for entry in (e for record in records for e in record.entries()):
        stored = entry.payload.to_payload()
        assert Payload.from_payload(stored) == entry.payload
        assert stored["kind"] == entry.payload.kind and "extra" not in stored
    page = records[0].entries()[0].payload.to_payload()
    assert page["searchable"] is False and page["section"] == "4 Tissues > 4.2 Epithelia"
    assert records[1].entries()[0].payload.to_payload()["bbox"] == [1.0, 2.0, 3.0, 4.0], "JSON lists on disk"


def test_stored_payloads_of_older_and_newer_indexes_stay_readable():
    old = {"kind": "case", "source": "/srv/cases", "case": "C1", "diagnosis": None, "text": None, "_id": "abc"}
    payload = Payload.from_payload(old)
    assert payload.diagnosis is None and payload.text == "" and payload.searchable
    assert payload.extra == {"_id": "abc"} and payload.to_payload()["_id"] == "abc", "unknown fields round-trip"
    assert Payload.from_payload({}).kind == "?"
    assert set(FILTER_FIELDS) <= set(Payload.__dataclass_fields__)


def test_a_citation_serialises_once_without_the_server_path():
    citation = Citation.of(Payload("figure", "/srv/books/a.pdf", page=3, figure="Figure 4.2", bbox=(1, 2, 3, 4)))
    data = citation.to_dict()
    assert data["source"] == "a.pdf" and data["source_id"] == source_id("/srv/books/a.pdf")
    assert "/srv" not in str(data) and data["label"] == "a.pdf, p. 3, Figure 4.2" and data["bbox"] == [1, 2, 3, 4]
    again = Citation.from_dict(data)
    assert again.page == 3 and again.bbox == (1, 2, 3, 4) and again.label() == data["label"]
