"""The web UI as a lecturer met it preparing a class: "Select all" in a filter menu emptied the menu back to "any", so
the value then clicked to leave it out was picked alone, the opposite of what was meant; and the results line, read
out, would have listed every value picked. The browser test drives conftest.py's ``page`` over the demo index (eight
diagnoses, one a case); the results line's words are a pure helper."""

from __future__ import annotations

import re

from pathatlas.ui.present import values_said
from tests.ui.test_browser import expect, finished, needs_chromium, open_menu, search, start_over

browser = needs_chromium
LEFT_OUT = "benign lung tissue"  # the diagnosis of the demo's DEMO-06


@browser
def test_select_all_keeps_the_values_shown_so_that_one_can_be_left_out(page):
    """After "Select all" the menu showed "any": the lecturer's click on "benign lung tissue", meant to leave it out,
    picked it alone. The values stay picked and shown (still no filter: the results and URL stay those of none), one
    is unpicked by its chip, and the results, their line and the URL then leave it out, after a reload too."""
    start_over(page)
    search(page, "lung tissue carcinoma")
    status = page.locator(".results-status[role=status]")
    expect(status).to_have_text(re.compile(r"^\d+ results.* for “lung tissue carcinoma”$"))
    finished(page)
    unfiltered = status.inner_text()
    cards = page.locator("[class*=st-key-card-]")
    expect(cards.filter(has_text=LEFT_OUT).first).to_be_visible()
    offered = len(open_menu(page, "diagnosis", r" \(\d+\)$").all())
    page.get_by_role("option", name="Select all").click()
    page.keyboard.press("Escape")
    finished(page)
    menu = page.locator(".st-key-filter-diagnosis")
    expect(menu.locator("[data-tag]")).to_have_count(offered)  # shown picked, not emptied to "any"
    expect(status).to_have_text(unfiltered)
    assert "diagnosis=" not in page.url, page.url
    menu.get_by_role("button", name=re.compile(rf"^Remove {LEFT_OUT} \(\d+\)$")).click()
    expect(status).to_have_text(re.compile(rf" for “lung tissue carcinoma” in diagnosis other than {LEFT_OUT}$"))
    finished(page)
    expect(cards.filter(has_text=LEFT_OUT)).to_have_count(0)
    named = re.findall(r"[?&]diagnosis=([^&]+)", page.url)
    assert len(named) == offered - 1 and "benign+lung+tissue" not in named, page.url
    page.reload()
    expect(status).to_have_text(re.compile(rf" in diagnosis other than {LEFT_OUT}$"))
    expect(menu.locator("[data-tag]")).to_have_count(offered - 1)


def test_the_results_line_names_few_values_and_most_by_those_left_out():
    """A menu's values as the results line says them: those picked, or those left out where most are picked; never
    more than three named."""
    organs = ["cervix", "colon", "kidney", "liver", "lung", "lymph node", "stomach"]
    assert values_said(["lung"], organs) == "lung"
    assert values_said(["colon", "lung"], organs) == "colon or lung"
    assert values_said(["colon", "liver", "lung"], organs) == "colon, liver or lung"
    assert values_said(["colon", "liver", "lung", "stomach"], organs) == "other than cervix, kidney and lymph node"
    assert values_said(organs[1:], organs) == "other than cervix"
    many = [f"organ {n}" for n in range(12)]
    assert values_said(many[:5], many) == "organ 0, organ 1, organ 2 or 2 more"
    assert values_said(many[:7], many) == "other than organ 7, organ 8, organ 9 and 2 more"
