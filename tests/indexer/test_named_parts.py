"""The parts of a figure its caption names, in the styles books use: OpenStax "(a) ... (b) ...", "(a, c) ...", Robbins
"A, ... B, ...", "A and B, ...", "A–C, ...", "(A, B)", "A. Normal. B. ...", "a) ... b) ...", "a: ... b: ..." and
"Left, ... Right, ...". Unbracketed names count only where a part may start (the caption's start after its label, a
sentence's, after a colon or semicolon), so a letter and a comma elsewhere ("Vitamin A, the ..."), an article ("A
section ...") and an initial ("A. B. Smith") name none. Letters count as a run from "a", none left out ("(c)" alone is
a copyright sign); places each count one."""

from __future__ import annotations

import pytest

from pathatlas.indexer.sources.pdf.captions import named_parts


@pytest.mark.parametrize(
    ("caption", "parts"),
    [
        ("FIGURE 3.2 Ischemic necrosis. A, gross infarct. B, microscopic view.", 2),
        ("FIGURE 3.3 A, normal liver; B, fatty liver; C, cirrhosis.", 3),
        ("Fig. 4.1 A and B, acute appendicitis. C, its serosa.", 3),
        ("FIGURE 5.6 A–C, stages of healing. D, a scar.", 4),
        ("Figure 5.7. (A–C) Stages of healing.", 3),
        ("Figure 6.1 Lymph node: a) cortex; b) medulla.", 2),
        ("Figure 6.2. a: Normal mucosa. b: Barrett mucosa. c: Adenocarcinoma.", 3),
        ("Figure 7.1 Left, normal kidney. Right, polycystic kidney.", 2),
        ("Figure 7.2 Top left: day 1. Top right: day 3. Bottom, day 7.", 3),
        ("Figure 4.3 Tissues (A, B). Both stained with trichrome.", 2),
        ("Figure 4.4 A. Normal. B. Fibrosis.", 2),
        ("Figure 4.5 (A, B, and C) Stages of repair. (D) A scar.", 4),
        ("Figure 4.6 A, B: normal liver. C, D: cirrhosis.", 4),
        ("Figure 4.7 A and B. Acute hepatitis. C. Its resolution.", 3),
        ("Figure 11.23. Muscles That Move the Humerus: (a, c) The anterior muscles ... (b, d) the posterior.", 4),
        ("Figure 4.8 A. Normal liver. A section through a lobule shows its portal tracts.", 1),
    ],
)
def test_each_style_of_naming_parts(caption, parts):
    assert named_parts(caption) == parts


@pytest.mark.parametrize(
    "caption",
    [
        "Figure 8.1 A section through the liver. A portal tract lies at its centre.",
        "Figure 8.2. Liver (c) 2020 OpenStax.",
        "Figure 8.3 Hepatocytes store vitamin A, the retinol of the diet, in lipid droplets.",
        "Figure 8.4 Islets hold type A, B, C and D cells.",
        "Figure 8.5 Kidney at left, bladder at right, and a ureter (top) between them.",
        "Figure 8.6 B, a lone second part. C, a third.",
        "Figure 8.7 Type A fibres conduct fastest.",
        "Figure 8.8 Hepatitis A. B cells answer the virus.",
        "Figure 8.9 Hepatocytes (credit: A. B. Smith).",
    ],
)
def test_words_that_only_look_like_parts_name_none(caption):
    assert named_parts(caption) == 0
