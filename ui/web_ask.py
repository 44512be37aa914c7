"""The Ask tab: a question, its options and an optional image; the answer, each option with its quoted evidence,
and a quote's record opened in a viewer right below it."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import streamlit as st

from pathatlas.agent.document import thumbnail_record
from pathatlas.retrieval.records import display_name
from pathatlas.ui.present import (
    SCORES_NOTE,
    counted,
    diagnosed_by_cases,
    option_heading,
    plain,
    quote_about,
    shorten,
    unknown_words_line,
    unsettled_said,
    unsupported_file,
)
from pathatlas.ui.web_client import call, nothing_indexed, upload_limit
from pathatlas.ui.web_common import (
    ASK_SAID,
    IMAGE_KINDS,
    IMAGE_TYPES,
    QUERY_IMAGE,
    move_focus,
    not_an_image,
    refocus_uploader,
    said_here,
)
from pathatlas.ui.web_search_state import value_names
from pathatlas.ui.web_viewer import opened, viewer


def evidence_quote(item: dict[str, Any], option: str, key: str, name: str) -> None:
    citation = item.get("citation") or {}
    stance = item.get("stance", "supports")
    colour = {"supports": "green", "related": "gray"}.get(stance, "red")
    label = plain(citation.get("label") or display_name(citation.get("source", "")))
    about = f" :gray-badge[{about}]" if (about := quote_about(item, option)) else ""
    st.markdown(f"> {plain(item.get('quote', ''))}\n\n:{colour}-badge[{stance}]{about} {label}")
    cited_evidence(citation, item.get("quote"), key, name)


def cited_evidence(citation: dict[str, Any], quote: str | None, key: str, name: str) -> None:
    """The Open button of one piece of cited evidence (``name``: "Open quote 2 for B", its accessible name, distinct
    from the other quotes'); the viewer opens right below the button clicked, where the reader is looking, not below
    every option, its title a heading under the option's."""
    if citation.get("evidence"):
        st.button(name, key=key, on_click=open_cited, args=(citation, quote, key))
    if st.session_state.get("cited") and st.session_state.get("cited_at") == key:
        viewer(st.session_state.cited, "cited", level=3)


CITED_AS = ("label", "figure", "page", "bbox", "caption_page", "caption_bbox")
"""The fields of an answer's citation that say what it cites and where, which the record it opens may not: a caption
quote's evidence is its page, whose own citation names no figure ("p. 1" where the answer cites "p. 1, Figure 1.1"),
nor the page its caption is printed on where that is the next (the quoted sentence)."""
CITED_LINKS = ("page_url", "caption_url")
"""The renders of what an answer's citation places (the viewer's pages, as a search hit links them): its page with the
cited box outlined, and the page printing a figure's caption where that is another, the caption outlined."""


def open_cited(citation: dict[str, Any], quote: str | None, key: str) -> None:
    """Button callback: open the record the answer cites, titled and offered to copy by its citation's words
    (``CITED_AS``): the figure it names (``thumbnail_record``), whose image Find similar searches with, else its
    evidence; a caption quote's evidence is its page, which has no image, and its viewer offered no Find similar. A
    quote's record is often its page, whose own box is none and whose snippet is the page's first lines: the viewer
    shows the quote instead (nothing where no quote is known: the page's first lines are not what was cited), and the
    page as the citation's ``page_url`` renders it, the record holding the quote outlined by the API as every door
    outlines it (a passage's blocks apart where a figure lies between them), then a figure's caption page as a
    search's viewer shows it (``CITED_LINKS``)."""
    record = opened(f"/records/{thumbnail_record(citation)}", "the cited record is no longer in the index")
    if record is None:
        return
    cited = {**record["citation"], **{field: citation.get(field) for field in CITED_AS}}
    snippet = quote or (record["snippet"] if cited["bbox"] == record["citation"].get("bbox") else "")
    shown = {"citation": cited, "snippet": snippet, **{link: citation.get(link) for link in CITED_LINKS}}
    st.session_state.cited = {**record, **shown, "cited": True}
    st.session_state.cited_at = st.session_state.cited_from = key
    move_focus(".st-key-cited-viewer h3")


class Asked(NamedTuple):
    """What an answer answers: the question and its options as asked, the image asked with (its upload's id and file
    name) and the sources answered from. A tuple, as ``UrlSearch``, so that the one a session keeps equals a new one
    after Streamlit reloads the app's modules."""

    question: str
    options: tuple[str, ...]
    image: tuple[str, str] | None
    scope: tuple[str, ...]


def typed_question(question: str, options: str, image, scope: list[str]) -> Asked:
    """The question the form holds now, as ``asked`` sends it: ``options`` as typed, one a line, blank lines left out;
    ``scope``, the sources to answer from."""
    listed = tuple(o.strip() for o in options.splitlines() if o.strip())
    return Asked(question.strip(), listed, (image.file_id, image.name) if image else None, tuple(scope))


ASK_IMAGE = "ask-image"  # the key of Ask's image uploader
ANSWER_HEADING = "ask-answer"  # the key of the container of the answer's heading, where Ask moves keyboard focus
QUESTION_SHOWN = 300  # of the question as asked, repeated above its answer once the form holds another


def as_asked_note(asked_as: Asked) -> str:
    """The line above an answer once the form holds another question than was asked (edited, Ask not pressed): the
    answer, and its notes on words no indexed text has, are the question's as asked, which the line repeats. Under a
    new question with new options, "Answer: A. Koilocytes" read as its answer."""
    sources = value_names("source")
    said = [f"“{shorten(asked_as.question, QUESTION_SHOWN)}”"]
    said += [f"Options: {'; '.join(asked_as.options)}."] if asked_as.options else []
    said += [f"Image: {asked_as.image[1]}."] if asked_as.image else []
    said += [f"From: {', '.join(sources.get(s, s) for s in asked_as.scope)}."] if asked_as.scope else []
    said += ["Press Ask to answer the one above."]
    return f"Below: the answer to the question as asked before your edits, {' '.join(said)}"


def asked(question: Asked, image) -> dict[str, Any] | None:
    """The API's answer to ``question`` (``typed_question``; ``image``, the upload it names); None where it refused or
    did not answer, or where nothing is indexed (each said): an answer from no evidence read as one. Options typed
    with their labels in order ("A. Koilocytes") are read without them, as every door reads them
    (``with_pasted_options``)."""
    if empty := nothing_indexed():
        st.info(empty)
        return None
    text, listed = question.question, list(question.options)
    filters = {"source": list(question.scope)} if question.scope else {}
    with st.spinner("Searching and weighing the evidence..."):
        if image is not None:
            response = call(
                "POST",
                "/ask/image",
                files={"image": (image.name, image.getvalue())},
                data={"question": text, "options": json.dumps(listed), "filters": json.dumps(filters)},
            )
        else:
            response = call("POST", "/ask", json={"question": text, "options": listed, "filters": filters})
    return response.json() if response is not None else None


def ask_tab() -> None:
    question = st.text_area("Question", placeholder="e.g. A cervical smear shows ... Which cells are these?")
    options = st.text_area("Options, one per line")
    image = st.file_uploader(
        f"Image (optional; {IMAGE_KINDS})",
        key=ASK_IMAGE,
        on_change=refocus_uploader,
        args=(ASK_IMAGE,),
        **upload_limit(QUERY_IMAGE),
    )
    if image is not None and unsupported_file(image.name, IMAGE_TYPES):
        why = f"{image.name} is not a {IMAGE_KINDS} image: choose one of those, or none."
        st.error(plain(not_an_image(image.name, why)))
        image = None
    sources = value_names("source")
    scope = st.multiselect(
        "Answer from",
        list(sources),
        key="ask-sources",
        format_func=sources.__getitem__,
        placeholder="every source",
        # no "Select all" row: Enter picked it ("Select 3 matches") where a reader typing a source meant its best
        # match, and every source picked is none (the filter menus keep theirs: "Select all", then one value unpicked,
        # is how a filter leaves one value out, ``narrows``)
        select_all=False,
    )
    now = typed_question(question, options, image, scope)
    pressed = st.button("Ask", type="primary")
    as_asked = st.empty()  # above the answer: the question it answers, where the form holds another
    heading = st.container(key=ANSWER_HEADING)
    # the answer's line, its progress and a refusal, read out, each Ask's anew: the same answer too (``said_here``)
    said = said_here(ASK_SAID, anew=pressed)
    if pressed:
        with said:
            st.session_state.answer = asked(now, image)
        st.session_state.answered, st.session_state.cited = now, None
        if st.session_state.answer:  # focus was left on Ask, and the next Tab went past the answer to its quotes
            move_focus(f".st-key-{ANSWER_HEADING} h2")
    answer = st.session_state.get("answer")
    if not answer:
        return
    # Focus's target, named: on the live region, an unnamed status, a second Ask of the same answer said nothing
    heading.header("Answer", anchor=False)  # h2 under the h1, as the options' headings below
    if (asked_as := st.session_state.get("answered", now)) != now:
        as_asked.info(plain(as_asked_note(asked_as)))
    options_out = answer.get("options") or []
    tied = [o for o in options_out if o.get("label") in (answer.get("tied") or [])]
    choice = answer.get("choice")  # the chosen option's 0-based index; ``answer`` is its text
    chosen = options_out[choice] if isinstance(choice, int) and 0 <= choice < len(options_out) and not tied else None
    letter = chosen.get("label") if chosen else None  # none in a tie: its choice is the first by its words, no lean
    text = chosen.get("text") if chosen else answer.get("answer") or ""
    shown = plain(f"{letter}. {text}" if letter and text and text != letter else (text or letter or ""))
    with said:
        answer_line(answer, options_out, tied, shown)
    if answer.get("rationale"):
        st.caption(plain(answer["rationale"]))
    if options_out:
        if any(o.get("score") is not None for o in options_out):
            st.caption(SCORES_NOTE)  # the confidence above is the one number that claims a chance
        ordered = sorted(options_out, key=lambda o: (o.get("label") != letter, -(o.get("score") or 0)))
        for o in ordered:
            with st.container(border=True, key=f"option-{o.get('label')}"):
                st.header(option_heading(o, o.get("label") == letter), anchor=False)  # h2 under the h1
                if not o.get("evidence"):
                    st.caption("no quoted evidence for this option")
                for n, item in enumerate(o.get("evidence", [])):
                    name = f"Open quote {n + 1} for {o.get('label')}"
                    evidence_quote(item, str(o.get("label")), key=f"quote-{o.get('label')}-{n}", name=name)
    elif answer.get("citations"):  # an open question: its evidence is the answer's citations
        st.header("Cited evidence", anchor=False)
        for n, citation in enumerate(answer["citations"]):
            with st.container(border=True, key=f"citation-{n}"):
                st.markdown(plain(citation.get("label") or display_name(citation.get("source", ""))))
                cited_evidence(citation, None, key=f"cited-{n}", name=f"Open citation {n + 1}")
    else:
        st.info("No evidence cited.")
    agent_steps(answer)


def answer_line(answer: dict[str, Any], options: list[dict[str, Any]], tied: list[dict[str, Any]], shown: str) -> None:
    """The answer's line (``shown``: the option chosen, as Markdown), settled or not, with its confidence; after a note
    on words of its question or options that no indexed text has, where any."""
    confidence = answer.get("confidence", 0.0)
    if note := unknown_words_line(answer.get("unknown_words", [])):  # an option that found no evidence by its words
        st.warning(plain(note))
    if answer.get("settled", True):
        st.success(f"Answer: {shown}  (confidence {confidence:.2f})")
    else:
        said = unsettled_said(options, tied, shown, diagnosed_by_cases(answer))
        st.warning(f"The evidence does not settle this. {said}  (confidence {confidence:.2f})")


def agent_steps(answer: dict[str, Any]) -> None:
    """What the agent did, a line a step a student reads ("Searched: 'granuloma' (8 hits)"): the steps' fields were
    printed as Python ("image: False", "cited: ['bd0b637b...']"). Every field stays in the answer's ``trace`` (REST,
    ``pathatlas ask --trace``), where a bug report takes them from."""
    labels = [str(o.get("label")) for o in answer.get("options") or []]
    with st.expander("Agent steps"):
        st.markdown("\n".join(f"- {plain(step_line(step, labels))}" for step in answer.get("trace", [])))


STEP_TEXT_CHARS = 100  # of a search's words a step's line repeats: a question with its options is a paragraph


def step_line(step: dict[str, Any], labels: list[str]) -> str:
    """One agent step in words (``labels``: the options' letters, which its passage counts are in the order of); a
    step of another kind (a plug-in's) by its name."""
    match step.get("step"):
        case "plan":
            return f"Planned {counted(len(step.get('queries') or []), 'search', 'searches')}"
        case "search":
            return searched_line(step)
        case "support":
            return support_line(step, labels)
        case "weigh":
            return weighed_line(step, labels)
        case "answer":
            return answered_line(step)
    return str(step.get("step"))


def searched_line(step: dict[str, Any]) -> str:
    """A search step: "Searched: 'acid-fast bacilli' (8 hits)", "Searched by the image (5 hits)", "Searched again"."""
    said = "Searched again" if step.get("round", 1) > 1 else "Searched"
    words = f"'{shorten(text, STEP_TEXT_CHARS)}'" if (text := step.get("text")) else ""
    if step.get("image"):
        said += f" by the image and {words}" if words else " by the image"
    elif words:
        said += f": {words}"
    return f"{said} ({counted(len(step.get('hits') or []), 'hit')})"


def support_line(step: dict[str, Any], labels: list[str]) -> str:
    """The passages found holding the question's words, then each option's, which weigh the options: "Counted the
    passages holding the question's words (7) and each option's (A 1, B 2)". The words themselves stay out: an
    option with none of its own (a verdict, "It is") was shown as ''."""
    question, *options = step.get("passages") or [0]
    each = ", ".join(f"{label} {n}" for label, n in zip(labels, options, strict=False))
    return f"Counted the passages holding the question's words ({question}) and each option's ({each})"


def weighed_line(step: dict[str, Any], labels: list[str]) -> str:
    """A weighing: "Weighed the options: A leads B by 0.12 in score" (the runner-up named: "A leads by 0.12" said not
    whom, nor in what), and whether the agent searches again to tell them apart."""
    said = "none leads"
    if leading := step.get("leading"):
        said = f"{leading} leads{runner_up(step, labels)} by {step.get('margin', 0):.2f} in score"
    again = "; searching again for what tells the two leading options apart" if step.get("queries") else ""
    return f"Weighed the options: {said}{again}"


def runner_up(step: dict[str, Any], labels: list[str]) -> str:
    """The option a weighing (``step``) scores highest after its leader, whom its margin is to, as " B"; "" where its
    scores do not say."""
    scores = [(score, label) for label, score in zip(labels, step.get("scores") or [], strict=False)]
    others = [(score, label) for score, label in scores if label != step.get("leading")]
    return f" {max(others)[1]}" if others else ""


ANSWERER_WORDS = {"offline": "without a language model", "llm": "with a language model"}
"""How the answer step says which answerer answered: "the offline answerer" is the project's name for it, not a
student's; a plug-in is named as configured."""


def answered_line(step: dict[str, Any]) -> str:
    """The answer step: "Answered B without a language model (confidence 0.93), citing 2 pieces of evidence"."""
    chosen = shorten(str(answer), STEP_TEXT_CHARS) if (answer := step.get("answer")) else "nothing"
    cited = counted(len(step.get("cited") or []), "piece of evidence", "pieces of evidence")
    confidence = step.get("confidence", 0.0)
    answerer = step.get("answerer")
    how = ANSWERER_WORDS.get(answerer, f"with the answerer {answerer}")
    return f"Answered {chosen} {how} (confidence {confidence:.2f}), citing {cited}"
