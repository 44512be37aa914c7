"""British spellings are searched as the American ones most textbooks print: a student's "Haemoglobin ... 1)
leucocytes" found nothing of the A&P book's "hemoglobin" and "leukocytes" and leaned to osteocytes, and "oedema" was
warned of as no indexed word. ``terms.american`` reads a British spelling as the American before stemming, so BM25,
the agent's evidence and snippet marks meet either; only listed spellings change, checked on the book's words.
The same student's options labelled "A:scar tissue" and "A - they lack a nucleus" were asked with their labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import Stemmer

from pathatlas.agent.evidence import names, option_terms
from pathatlas.agent.questions import option_lines, unfolded
from pathatlas.retrieval import lexical
from pathatlas.retrieval import terms as terms_module
from pathatlas.retrieval.index import Index
from pathatlas.retrieval.marks import marked_spans, query_terms
from pathatlas.retrieval.terms import IDEAS, EnglishStemmer, american, root, singular, tokenize
from pathatlas.ui.cli import parse_options
from pathatlas.ui.words import unindexed_words
from tests.helpers import hashing_settings, indexed_lecture, ranked, run_cli
from tests.retrieval.test_latin_forms import book_words

PAIRS = [
    ("haemoglobin", "hemoglobin"),
    ("haemorrhage", "hemorrhage"),
    ("haematoxylin", "hematoxylin"),
    ("ischaemia", "ischemia"),
    ("anaemic", "anemic"),
    ("leukaemia", "leukemia"),
    ("leucaemia", "leukemia"),
    ("septicaemia", "septicemia"),
    ("hypoglycaemia", "hypoglycemia"),
    ("anaesthesia", "anesthesia"),
    ("paediatric", "pediatric"),
    ("orthopaedic", "orthopedic"),
    ("gynaecology", "gynecology"),
    ("caesarean", "cesarean"),
    ("aetiology", "etiology"),
    ("faeces", "feces"),
    ("caecum", "cecum"),
    ("leucocytes", "leukocytes"),
    ("leucopenia", "leukopenia"),
    ("oedema", "edema"),
    ("myxoedema", "myxedema"),
    ("papilloedema", "papilledema"),
    ("oesophagus", "esophagus"),
    ("oesophageal", "esophageal"),
    ("oestrogen", "estrogen"),
    ("oestradiol", "estradiol"),
    ("manoeuvre", "maneuver"),
    ("diarrhoea", "diarrhea"),
    ("amenorrhoea", "amenorrhea"),
    ("gonorrhoea", "gonorrhea"),
    ("dyspnoea", "dyspnea"),
    ("apnoea", "apnea"),
    ("foetus", "fetus"),
    ("foetal", "fetal"),
    ("coeliac", "celiac"),
    ("homoeostasis", "homeostasis"),
    ("tumour", "tumor"),
    ("tumours", "tumors"),
    ("colour", "color"),
    ("humour", "humor"),
    ("behavioural", "behavioral"),
    ("labour", "labor"),
    ("odour", "odor"),
    ("favourable", "favorable"),
    ("fibre", "fiber"),
    ("fibres", "fibers"),
    ("centre", "center"),
    ("centred", "centered"),
    ("litre", "liter"),
    ("millilitre", "milliliter"),
    ("micrometre", "micrometer"),
    ("calibre", "caliber"),
    ("sulphate", "sulfate"),
    ("grey", "gray"),
    ("organise", "organize"),
    ("organisation", "organization"),
    ("recognised", "recognized"),
    ("depolarisation", "depolarization"),
    ("hyperpolarised", "hyperpolarized"),
    ("ionising", "ionizing"),
    ("minimise", "minimize"),
    ("characterised", "characterized"),
    ("keratinised", "keratinized"),
    ("mineralisation", "mineralization"),
    ("oxidised", "oxidized"),
    ("crystallise", "crystallize"),
    ("catalysed", "catalyzed"),
    ("paralysed", "paralyzed"),
]


@pytest.mark.parametrize(("british", "american_spelling"), PAIRS)
def test_a_british_spelling_has_the_american_ones_stem(british, american_spelling):
    assert tokenize([british]) == tokenize([american_spelling])


@pytest.mark.parametrize(
    "word",
    [
        *("aerobic", "aeration", "oedipus", "shoe", "toe", "poet", "coelom", "amoeba", "leucine", "caesar"),
        *("hour", "four", "pour", "your", "tour", "contour", "flour", "devour", "mitre", "nitre", "acre", "genre"),
        *("anise", "arise", "rearise", "cerise", "treatise", "expertise", "advertise", "exercise", "promise"),
        *("premise", "precise", "otherwise", "trellised", "lysed", "analyse", "analyses"),
        *("gastroesophageal", "tracheoesophageal", "angioedema", "proestrus"),
    ],
)
def test_a_word_that_only_looks_british_is_read_as_written(word):
    """American words (and American compounds of British-looking parts: "gastroesophageal" is no "gastro-oesophageal")
    and British ones with no other spelling stay; "analyse" keeps the stem of "analysis"."""
    assert american(word) == word


def test_every_book_word_whose_stem_the_spellings_change_is_a_british_one():
    """On every word of the (American) A&P book, the words whose stems the spellings change are its few British ones,
    each now its American form's ("ischaemia" in a reference, "Caesarian section"): a rule that read an American word
    ("gastroesophageal", "aerobic") otherwise fails here."""
    plain, ours = Stemmer.Stemmer("english"), EnglishStemmer()
    changed = {
        word: american(word)
        for word in book_words()
        if word not in IDEAS and ours.stemWord(word) != root(plain.stemWord(singular(word)))
    }
    assert changed == {
        "ischaemia": "ischemia",
        "orthopaedics": "orthopedics",
        "caesarian": "cesarean",
        "paed": "ped",  # "paed- = 'child'", the prefix named
    }
    assert {"ischemia", "orthopedics", "cesarean"} <= book_words()


def test_a_british_search_finds_the_american_page_and_an_american_one_the_british_page():
    pages = {
        "us": "Edema is swelling from fluid leaving the capillaries; hemoglobin stays in the erythrocytes.",
        "uk": "The tumour of the oesophagus and the colour of its fibres.",
        "other": "The capillaries and the erythrocytes of the skin.",
    }
    queries = ["oedema", "haemoglobin", "esophagus tumor", "fiber color"]
    assert [ranked(pages, query)[0] for query in queries] == ["us", "us", "uk", "uk"]


def test_a_snippet_marks_the_american_word_of_a_british_query():
    text = "Edema and leukocytes in the esophagus."
    spans = marked_spans(text, query_terms("oedema leucocytes oesophagus"))
    assert [text[a:b] for a, b in spans] == ["Edema", "leukocytes", "esophagus"]


def test_the_agent_reads_the_books_leukocytes_as_the_option_leucocytes():
    """The evidence's sentence names an option spelt the other way ("leucocytes" had no sentence in the evidence)."""
    own = option_terms("Haemoglobin is found in which cells?", ["leucocytes", "erythrocytes"])
    assert names(set(tokenize(["Leukocytes defend the body."])[0]), own[0])
    assert not names(set(tokenize(["Leukocytes defend the body."])[0]), own[1])


def test_a_british_spelling_of_an_indexed_word_is_no_unknown_word():
    terms = set(tokenize(["Edema of the esophagus, a tumor."])[0])
    assert unindexed_words("oedema oesophagus tumour oedemma", terms, ()) == ["oedemma"]


@pytest.fixture(scope="module")
def edema_lecture(tmp_path_factory) -> Path:
    return indexed_lecture(
        tmp_path_factory.mktemp("edema"),
        "edema.pdf",
        "Edema is swelling: fluid leaves the capillaries when their hydrostatic pressure rises.",
    )


def test_a_british_search_finds_the_american_page_by_its_words_and_warns_of_nothing(edema_lecture):
    result = run_cli("search", "oedema", "--index", edema_lecture / "idx", "--json", home=edema_lecture / "home")
    assert result.exit_code == 0, result.output
    assert "no indexed word" not in result.stderr, result.stderr
    assert json.loads(result.stdout)[0]["why"].startswith("words #1"), result.stdout


def test_an_index_saved_before_reads_its_british_texts_again(tmp_path):
    """Segments saved by terms version 10, the last before British spellings, hold "tumour" as its own stem, which no
    query stems to now: they are read again from the store (``TERMS_VERSION``), and the British text is found by
    either spelling."""
    with pytest.MonkeyPatch.context() as older:
        older.setattr(lexical, "TERMS_VERSION", 10)
        older.setattr(terms_module, "american", lambda word: word)
        indexed_lecture(tmp_path, "notes.pdf", "A tumour of the oesophagus.")
    settings = hashing_settings(tmp_path, index=tmp_path / "idx")
    with Index.open(settings.index_dir, settings) as index:
        assert [len(hits) for hits in index.lexical.search(["tumour oesophagus", "tumor esophagus"], 5)] == [1, 1]


# -- option labels "A:" and "A -" --------------------------------------------------------------------------------------

SCAR = ["scar tissue", "new cardiac muscle", "smooth muscle"]


@pytest.mark.parametrize("label", ["{}:", "{}: ", "{} - ", "{} – ", "{}- "])
@pytest.mark.parametrize("letters", ["ABC", "abc"])
def test_options_labelled_with_a_colon_or_a_dash_lose_their_labels(label, letters):
    assert parse_options([label.format(letter) + option for letter, option in zip(letters, SCAR, strict=True)]) == SCAR


@pytest.mark.parametrize("label", ["{}:", "{} -"])
def test_a_pasted_question_with_colon_or_dash_labels_is_split_on_its_lines_or_its_last_line(label):
    lines = "\n".join(f"{label.format(letter)} {option}" for letter, option in zip("ABC", SCAR, strict=True))
    question = "Which tissue replaces dead cardiac muscle?"
    assert option_lines(f"{question}\n{lines}") == (question, SCAR)
    assert unfolded(f"{question} {lines.replace(chr(10), ' ')}") == f"{question}\n{lines}"


@pytest.mark.parametrize(
    "options",
    [["1:1", "2:1", "3:1"], ["1 - 2 days", "2 - 4 days"], ["A:G ratio low", "albumin high"]],
)
def test_ratios_ranges_and_a_lone_colon_are_no_labels(options):
    assert parse_options(options) == options


def test_a_lone_colon_label_opening_a_line_is_the_questions_text():
    """ "Q:" before the question and a vignette's "T: 38.5 C" are no options: a colon or dash label counts only
    among lines lettered from A, as a number does."""
    question = "Q: A man of 40 is feverish.\nT: 38.5 C\nP: 110\nWhat is the likely cause?"
    assert option_lines(f"{question}\nA. sepsis\nB. anxiety") == (question, ["sepsis", "anxiety"])
    assert option_lines(f"{question}\nA: sepsis\nB: anxiety") == (question, ["sepsis", "anxiety"])
