"""Names shown with their bidi controls written out, never raw; a query image file over its byte cap refused unread."""

from __future__ import annotations

import pytest

from pathatlas.errors import BadInputError
from pathatlas.retrieval.images import max_image_bytes, open_image
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.records import Citation, Payload, display_name, distinct_names, source_id
from tests.helpers import hashing_settings, indexed_lecture, one_error_line, run_cli

BIDI = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
SPOOF = "\u202efdp.exe.pdf"
"""Shown raw, it reads "pdf.exe.pdf"."""


def raw_bidi(text: str) -> list[str]:
    return [char for char in text if char in BIDI]


@pytest.mark.parametrize("char", list(BIDI))
def test_display_name_writes_out_each_bidi_control(char):
    name = display_name(f"/srv/lectures/a{char}b.pdf/")
    assert name == f"a<U+{ord(char):04X}>b.pdf"


def test_distinct_names_show_bidi_controls_written_out():
    keys = ["/srv/\u2067year2\u2069/notes.pdf", "/srv/year1/notes.pdf", "/srv/other.pdf"]
    names = distinct_names(keys)
    assert names == {keys[0]: "<U+2067>year2<U+2069>/notes.pdf", keys[1]: "year1/notes.pdf"}


def test_citation_label_and_json_show_the_spoof_written_out_and_keep_the_key():
    key = f"/srv/lectures/{SPOOF}"
    payload = Payload(kind="page", source=key, page=2, book="Atlas \u202eygolohtap")
    citation = Citation.of(payload)
    shown = citation.to_dict()
    assert citation.label() == "Atlas <U+202E>ygolohtap (<U+202E>fdp.exe.pdf), p. 2"
    assert shown["source"] == "<U+202E>fdp.exe.pdf" and shown["book"] == "Atlas <U+202E>ygolohtap"
    assert not raw_bidi(str(shown))
    assert citation.source == key and shown["source_id"] == source_id(key)  # the stored key still opens the file
    again = Citation.from_dict({**shown, "source": SPOOF})  # a name sent back raw is shown written out again
    assert again.source_name == "<U+202E>fdp.exe.pdf"


def test_search_table_shows_the_spoofed_file_name_written_out(tmp_path):
    root = indexed_lecture(tmp_path, SPOOF, "Granulomas are compact collections of epithelioid macrophages.")
    result = run_cli("search", "granuloma macrophages", "--index", root / "idx", home=root / "home")
    assert result.exit_code == 0, result.output
    assert "<U+202E>fdp.exe.pdf" in result.output and not raw_bidi(result.output)
    index = Index.open(root / "idx", hashing_settings(root))
    assert list(index.manifest) == [str((root / SPOOF).resolve())]  # the key keeps the name the file has
    index.close()


def sparse_file(path, size: int):
    with open(path, "wb") as file:
        file.truncate(size)
    return path


def test_query_image_over_the_byte_cap_is_refused_before_it_is_read(tmp_path):
    cap = max_image_bytes(1)
    path = sparse_file(tmp_path / "huge.jpg", cap + 1)
    with pytest.raises(BadInputError) as refused:
        open_image(path, 1, query=True)
    message = str(refused.value)
    assert "\n" not in message and f"{(cap + 1) / 2**20:,.1f} MB" in message
    assert f"over the limit of {cap / 2**20:,.1f} MB" in message and "PATHATLAS_MAX_IMAGE_PIXELS" in message


def test_cli_image_query_of_a_sparse_3_gb_file_is_refused_in_one_line(hashing_cli):
    indexed_lecture(hashing_cli, "notes.pdf", "Granulomas are compact collections of epithelioid macrophages.")
    big = sparse_file(hashing_cli / "slide.jpg", 3 << 30)
    result = run_cli("search", "--image", big, "--index", hashing_cli / "idx")  # read whole: 13 s, 3.1 GB
    one_error_line(result, "slide.jpg", "3,072.0 MB", "over the limit of", "PATHATLAS_MAX_IMAGE_PIXELS")


def test_a_file_of_exactly_the_byte_cap_is_read_and_judged_by_its_content(tmp_path):
    path = sparse_file(tmp_path / "zeros.jpg", max_image_bytes(1))
    with pytest.raises(BadInputError, match="is not a readable image"):
        open_image(path, 1, query=True)


def test_a_removal_hint_names_a_bidi_named_source_by_its_id_which_remove_finds():
    """``removal_name`` gave the shown name, "<U+202E>fdp.exe.pdf", which ``pathatlas remove`` looks for in vain."""
    from pathatlas.indexer.pipeline import removal_name
    from pathatlas.retrieval.records import source_id

    spoofed, plain = "/lib/\u202efdp.exe.pdf", "/lib/notes.pdf"
    manifest = {spoofed: {"id": source_id(spoofed)}, plain: {"id": source_id(plain)}}
    assert removal_name(manifest, spoofed) == source_id(spoofed)
    assert removal_name(manifest, plain) == "notes.pdf"
