"""``pathatlas export --hits``: search results written as a handout a lecturer opens in a spreadsheet, a Markdown
editor, a JSON reader or a reference manager, with citations and non-ASCII text as PathAtlas gives them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from pathatlas.ui.cli import app
from pathatlas.ui.export_cli import SNIPPET_CHARS, cut
from tests.helpers import only_error_line


def book_hit(rank: int, page: int, snippet: str, figure: str | None = None) -> dict:
    """A hit on a titled book's page (or figure), as ``search --json`` prints it."""
    label = f"Anatomy and Physiology 2e (book.pdf), p. {page}" + (f", {figure}" if figure else "")
    citation = {"source": "book.pdf", "page": page, "figure": figure, "case": None, "image": None, "label": label}
    citation |= {"page_label": None, "book": "Anatomy and Physiology 2e", "bbox": [60.0, 518.6, 551.4, 615.9]}
    section = "Chapter 6: Bone Tissue > 6.3 Bone Structure"
    return {"rank": rank, "kind": "figure" if figure else "page", "snippet": snippet, "section": section,
            "diagnosis": None, "citation": citation}  # fmt: skip


def case_hit(rank: int, case: str, image: str, diagnosis: str) -> dict:
    """A hit on a case image of the atlas folder, as ``search --json`` prints it."""
    label = f"atlas, case {case}, {image}"
    citation = {"source": "atlas", "page": None, "figure": None, "case": case, "image": image, "label": label}
    citation |= {"page_label": None, "book": None, "bbox": None}
    return {"rank": rank, "kind": "case", "snippet": diagnosis.title(), "section": None, "diagnosis": diagnosis,
            "citation": citation}  # fmt: skip


HITS = [
    book_hit(1, 174, 'Osteoclasts, "bone eaters", resorb bone;\nthey measure 150 µm across (α, β receptors).'),
    book_hit(2, 174, "Osteoclasts on the bone surface.", figure="Figure 6.11"),
    case_hit(3, "=HYPERLINK(1)", "images/côlon_1.jpg", "adenocarcinoma, colon"),
    book_hit(4, 174, "The same page again, another passage."),
]


def export(tmp_path, name: str, *extra: str, hits=HITS):
    """Run ``pathatlas export --hits FILE --to tmp_path/name``; the result and the file written."""
    source = tmp_path / "hits.json"
    source.write_text(json.dumps(hits, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["export", "--hits", str(source), "--to", str(tmp_path / name), *extra])
    return result, tmp_path / name


def test_csv_opens_in_excel_with_commas_quotes_line_breaks_and_non_ascii_intact(tmp_path):
    result, written = export(tmp_path, "handout.csv")
    assert result.exit_code == 0, result.output
    assert written.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with its BOM
    with written.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 4
    assert rows[0]["snippet"] == 'Osteoclasts, "bone eaters", resorb bone; they measure 150 µm across (α, β receptors).'
    assert rows[0]["citation"] == "Anatomy and Physiology 2e (book.pdf), p. 174"
    assert rows[0]["book"] == "Anatomy and Physiology 2e" and rows[0]["page"] == "174"
    assert rows[1]["figure"] == "Figure 6.11"
    assert rows[2]["case"] == "'=HYPERLINK(1)"  # kept as text, not run as a formula
    assert rows[2]["image"] == "images/côlon_1.jpg" and rows[2]["diagnosis"] == "adenocarcinoma, colon"


def test_markdown_renders_a_numbered_list_of_citations_as_written(tmp_path):
    hits = [*HITS[:2], {**HITS[0], "citation": {**HITS[0]["citation"], "label": "my_notes_v2.pdf, p. 3"}}]
    result, written = export(tmp_path, "handout.md", hits=hits)
    assert result.exit_code == 0, result.output
    html = MarkdownIt().render(written.read_text(encoding="utf-8"))
    assert html.count("<li>") == 3 and "<ol>" in html
    assert "<strong>Anatomy and Physiology 2e (book.pdf), p. 174, Figure 6.11</strong>" in html
    assert "<strong>my_notes_v2.pdf, p. 3</strong>" in html and "<em>" not in html
    assert "Chapter 6: Bone Tissue &gt; 6.3 Bone Structure" in html
    assert "150 µm across (α, β receptors).</p>\n</blockquote>" in html


def test_json_rows_keep_non_ascii_as_written(tmp_path):
    result, written = export(tmp_path, "handout.json")
    assert result.exit_code == 0, result.output
    text = written.read_text(encoding="utf-8")
    assert "µm" in text and "côlon" in text
    rows = json.loads(text)
    assert [row["citation"] for row in rows] == [hit["citation"]["label"] for hit in HITS]
    assert rows[2]["case"] == "=HYPERLINK(1)"  # JSON is no spreadsheet: the value as indexed


def test_ris_cites_a_book_page_as_a_section_and_each_citation_once(tmp_path):
    result, written = export(tmp_path, "handout.ris")
    assert result.exit_code == 0, result.output
    records = [
        dict(line.split("  - ", 1) for line in record.strip().splitlines())
        for record in written.read_text(encoding="utf-8").split("ER  - ")
        if record.strip()
    ]
    assert len(records) == 3  # hit 4 cites hit 1's page again
    page, figure, case = records
    assert page == {
        "TY": "CHAP",
        "TI": "6.3 Bone Structure",
        "T2": "Anatomy and Physiology 2e",
        "SP": "174",
        "N1": "Anatomy and Physiology 2e (book.pdf), p. 174",
    }
    assert figure["TI"] == "Figure 6.11" and figure["T2"] == "Anatomy and Physiology 2e"
    assert case == {"TY": "GEN", "TI": "atlas, case =HYPERLINK(1), images/côlon_1.jpg", "N1": case["TI"]}


def test_a_long_passage_is_cut_after_a_whole_word():
    text = "granuloma " * 100
    short = cut(text.strip())
    assert len(short) <= SNIPPET_CHARS and short.endswith("granuloma…")
    assert cut("short passage") == "short passage"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "holds no results: nothing to export"),
        ("not json", "is not JSON"),
        ('{"answer": "B"}', "holds no search results"),
        ('[{"rank": 1}]', "holds no search results"),
    ],
)
def test_an_unusable_hits_file_is_one_line(tmp_path, content, message):
    (tmp_path / "hits.json").write_text(content)
    result = CliRunner().invoke(app, ["export", "--hits", str(tmp_path / "hits.json"), "--to", "x.csv"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and message in result.output and "Traceback" not in result.output


def test_a_missing_hits_file_or_an_unknown_ending_is_one_line(tmp_path):
    missing = CliRunner().invoke(app, ["export", "--hits", str(tmp_path / "nope.json"), "--to", "x.md"])
    assert missing.exit_code == 1 and "no such file" in missing.output and missing.output.count("\n") == 1
    result, _ = export(tmp_path, "handout.docx")
    assert result.exit_code == 1 and "give a file ending in .csv, .md, .json, .ris" in result.output
    url = CliRunner().invoke(app, ["export", "--hits", str(tmp_path / "hits.json"), "--to", "http://localhost:6333"])
    assert url.exit_code == 1 and "--to http://localhost:6333 names no handout format" in url.output


def test_a_handout_in_a_new_folder_is_written_there_as_json_files_are(tmp_path):
    result, written = export(tmp_path, "new/folder/handout.csv")
    assert result.exit_code == 0, (result.output, result.exception)
    assert written.read_bytes().startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize(
    ("to", "message"),
    [("/proc/handout.json", "cannot write in /proc"), ("/dev/null/handout.md", "/dev/null is a file, not a folder")],
)
def test_a_handout_where_no_file_can_be_made_is_one_line(tmp_path, to, message):
    """A ~60-line traceback ended in FileNotFoundError: only a folder given as --to was refused."""
    if not Path(to).parent.exists():
        pytest.skip(f"no {Path(to).parent} here")
    (tmp_path / "hits.json").write_text(json.dumps(HITS))
    result = CliRunner().invoke(app, ["export", "--hits", str(tmp_path / "hits.json"), "--to", to])
    only_error_line(result, f"--to {to}", message)


def test_json_flag_prints_json_only(tmp_path):
    result, written = export(tmp_path, "handout.md", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"rows": 4, "format": "markdown", "file": str(written)}


def test_a_handout_file_without_hits_is_refused_not_made_a_qdrant_copy(demo_index, session_home, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "export",
            "--index",
            str(demo_index.path),
            "--to",
            str(tmp_path / "handout.csv"),
            "--out",
            str(tmp_path / "q"),
        ],
        env={"PATHATLAS_HOME": str(session_home)},
    )
    assert result.exit_code == 1 and "give the results with --hits" in result.output
    assert not (tmp_path / "handout.csv").exists() and not (tmp_path / "q").exists()


def test_search_json_piped_into_export_gives_the_search_citations(demo_index, session_home, tmp_path):
    env = {"PATHATLAS_HOME": str(session_home)}
    search = CliRunner().invoke(app, ["search", "koilocytes", "--index", str(demo_index.path), "--json"], env=env)
    assert search.exit_code == 0, search.output
    to = tmp_path / "handout.csv"
    result = CliRunner().invoke(app, ["export", "--hits", "-", "--to", str(to)], input=search.stdout, env=env)
    assert result.exit_code == 0, result.output
    with to.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["citation"] for row in rows] == [hit["citation"]["label"] for hit in json.loads(search.stdout)]
