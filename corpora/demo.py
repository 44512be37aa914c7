"""The demo corpus: a short pathology primer (text written for PathAtlas) and a case folder.

Every image is drawn here from a seeded generator that imitates H&E patterns (eosin-pink stroma,
haematoxylin-blue nuclei arranged as glands, keratin pearls, granulomas, koilocytes...), so the
corpus is the project's own and building it needs nothing but numpy, Pillow and pymupdf.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageDraw, ImageFilter

from pathatlas.corpora.demo_text import CASES, CHAPTERS

SIZE = 320
EOSIN = (236, 168, 196)
NUCLEUS = (78, 42, 128)


def _canvas(rng: np.random.Generator, base=EOSIN) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    noise = rng.normal(0, 9, (SIZE, SIZE, 3))
    pixels = np.clip(np.array(base, dtype=float) + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    return image, ImageDraw.Draw(image)


def _nucleus(draw, rng, x, y, r, colour=NUCLEUS):
    rx, ry = r * rng.uniform(0.8, 1.2), r * rng.uniform(0.7, 1.1)
    shade = tuple(int(c * rng.uniform(0.85, 1.1)) for c in colour)
    draw.ellipse([x - rx, y - ry, x + rx, y + ry], fill=shade)


def draw_pattern(pattern: str, seed: int) -> Image.Image:
    """One synthetic micrograph of a named pattern; the same (pattern, seed) always gives the same image."""
    rng = np.random.default_rng(seed)
    image, draw = _canvas(rng, (245, 238, 242) if pattern == "alveoli" else EOSIN)
    if pattern == "koilocytes":  # squamous cells with a clear perinuclear halo and raisinoid nuclei
        for _ in range(26):
            x, y = rng.uniform(0, SIZE, 2)
            draw.ellipse([x - 22, y - 16, x + 22, y + 16], fill=(232, 150, 185), outline=(190, 110, 150))
            draw.ellipse([x - 13, y - 10, x + 13, y + 10], fill=(250, 244, 248))
            _nucleus(draw, rng, x + rng.uniform(-3, 3), y, 6, (60, 30, 90))
    elif pattern == "granuloma":  # epithelioid histiocytes around a multinucleated giant cell
        cx, cy = SIZE / 2 + rng.uniform(-30, 30), SIZE / 2 + rng.uniform(-30, 30)
        for _ in range(140):
            angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(55, 130)
            _nucleus(draw, rng, cx + dist * math.cos(angle), cy + dist * math.sin(angle), 5)
        draw.ellipse([cx - 42, cy - 36, cx + 42, cy + 36], fill=(226, 140, 182))
        for k in range(16):
            angle = 2 * math.pi * k / 16
            _nucleus(draw, rng, cx + 33 * math.cos(angle), cy + 27 * math.sin(angle), 5)
    elif pattern == "glands":  # adenocarcinoma: crowded glands of columnar nuclei around lumens
        for _ in range(7):
            cx, cy, r = *rng.uniform(30, SIZE - 30, 2), rng.uniform(22, 40)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(252, 248, 250))
            for k in range(int(r)):
                angle = 2 * math.pi * k / int(r)
                _nucleus(draw, rng, cx + (r + 6) * math.cos(angle), cy + (r + 6) * math.sin(angle), 4.5)
    elif pattern == "keratin-pearls":  # squamous cell carcinoma: sheets with concentric keratin
        for _ in range(220):
            _nucleus(draw, rng, *rng.uniform(0, SIZE, 2), 5.5)
        for _ in range(3):
            cx, cy = rng.uniform(50, SIZE - 50, 2)
            for r in range(40, 4, -6):
                tone = (244, 120 + r, 150 + r)
                draw.ellipse([cx - r, cy - r * 0.8, cx + r, cy + r * 0.8], fill=tone, outline=(200, 90, 130))
    elif pattern == "alveoli":  # benign lung: thin septa around airspaces
        for _ in range(40):
            x, y, r = *rng.uniform(0, SIZE, 2), rng.uniform(18, 40)
            draw.ellipse([x - r, y - r, x + r, y + r], outline=(214, 130, 170), width=4)
            _nucleus(draw, rng, x + r, y, 3.5)
    elif pattern == "small-blue-cells":  # lymphoma: sheets of small round blue nuclei
        for _ in range(900):
            _nucleus(draw, rng, *rng.uniform(0, SIZE, 2), 3.8, (70, 50, 140))
    else:
        raise ValueError(f"unknown pattern {pattern!r}")
    return image.filter(ImageFilter.GaussianBlur(0.8))


def build_primer(path: Path) -> None:
    """A small textbook PDF: chapters of text written for PathAtlas, each with captioned figures."""
    doc = pymupdf.open()
    doc.set_metadata({"title": "PathAtlas Demo Primer of Pathology", "author": "PathAtlas contributors"})
    toc = []
    for number, chapter in enumerate(CHAPTERS, start=1):
        page = doc.new_page(width=612, height=792)
        toc.append([1, chapter["title"], page.number + 1])
        page.insert_htmlbox(pymupdf.Rect(60, 50, 552, 90), f"<h2>Chapter {number}. {chapter['title']}</h2>")
        page.insert_htmlbox(pymupdf.Rect(60, 95, 552, 400), "".join(f"<p>{p}</p>" for p in chapter["paragraphs"]))
        for k, figure in enumerate(chapter["figures"]):
            rect = pymupdf.Rect(60 + k * 250, 410, 300 + k * 250, 590)
            image = draw_pattern(figure["pattern"], seed=number * 10 + k)
            buffer = _jpeg(image)
            page.insert_image(rect, stream=buffer)
            caption = f"Figure {number}.{k + 1}. {figure['title']}: {figure['caption']}"
            page.insert_htmlbox(pymupdf.Rect(rect.x0, 595, rect.x1, 740), f"<p style='font-size:9px'>{caption}</p>")
    doc.set_toc(toc)
    tmp = path.with_suffix(".tmp.pdf")
    doc.save(tmp, garbage=3, deflate=True)
    tmp.replace(path)


def _jpeg(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def build_cases(folder: Path) -> None:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for number, case in enumerate(CASES, start=1):
        for view in range(2):
            name = f"images/{case['case']}-{view + 1}.jpg"
            draw_pattern(case["pattern"], seed=1000 + number * 7 + view).save(folder / name, quality=90)
            rows.append({k: v for k, v in {**case, "image": name}.items() if k != "pattern"})
    tmp = folder / "cases.jsonl.tmp"
    tmp.write_text("".join(json.dumps(row) + "\n" for row in rows))
    tmp.replace(folder / "cases.jsonl")


def build_demo_corpus(target: Path) -> Path:
    """Write the corpus under ``target`` (skipped when present) and return that folder."""
    primer = target / "primer" / "demo-primer.pdf"
    cases = target / "cases"
    if not primer.is_file():
        primer.parent.mkdir(parents=True, exist_ok=True)
        build_primer(primer)
    if not (cases / "cases.jsonl").is_file():
        build_cases(cases)
    return target
