"""The Python doors misused (a tester's findings): ``Atlas`` after close, with a k over REST's limit, paths in a list,
settings given wrongly; a LangChain retriever whose filters name what the index lacks; secrets in reprs and errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pathatlas.errors import BadInputError
from pathatlas.settings import Settings, load_settings
from pathatlas.ui.api.app import create_app
from pathatlas.ui.api.engine import Engine
from pathatlas.ui.hits import K_MAX
from pathatlas.ui.langchain import PathAtlasRetriever
from pathatlas.ui.library import Atlas
from tests.helpers import quick

SECRETS = {"api_token": "s3cret-token", "llm_api_key": "s3cret-llm-key", "qdrant_api_key": "s3cret-qdrant-key"}


@pytest.mark.parametrize("store", ["faiss", "qdrant"])
def test_a_closed_atlas_opens_its_index_again_at_its_next_use(store, tmp_path, demo_corpus):
    """Closed, a Qdrant store refused every later search, a new ``with`` block included; a FAISS one searched on."""
    atlas = Atlas(tmp_path / "index", **quick(tmp_path, store=store))
    with atlas:
        atlas.add(demo_corpus / "primer")
        first, found = atlas.index, atlas.search("koilocytes", k=2)
        question = ("Which cells show a perinuclear halo?", ["Koilocytes", "Goblet cells"])
        answer = atlas.ask(*question)
    assert atlas.search("koilocytes", k=2) == found and atlas.index is not first
    atlas.close()
    atlas.close()
    with atlas:
        assert atlas.search("koilocytes", k=2) == found
        assert atlas.ask(*question) == answer


def test_a_retriever_with_a_filter_value_the_index_lacks_is_refused_when_made_as_rest_refuses_it(
    quick_demo, monkeypatch
):
    settings = Settings(**quick(quick_demo), index=quick_demo / "index")
    with TestClient(create_app(settings)) as client:
        rest = client.post("/search", json={"text": "adenocarcinoma", "filters": {"organ": "lungg"}})
    assert rest.status_code == 404
    closed: list[Engine] = []
    close = Engine.close
    monkeypatch.setattr(Engine, "close", lambda engine: (closed.append(engine), close(engine))[1])
    with pytest.raises(BadInputError) as refused:
        PathAtlasRetriever.from_index(settings=settings, k=3, filters={"organ": "lungg"})
    assert str(refused.value) == rest.json()["detail"] and "closest: 'lung'" in str(refused.value)
    with pytest.raises(BadInputError, match=r"^no source 'nope\.pdf' in index index; "):
        PathAtlasRetriever.from_index(settings=settings, filters={"source": "nope.pdf"})
    assert len(closed) == 2, "a refused retriever's engine is closed, not left running"
    docs = PathAtlasRetriever.from_index(settings=settings, k=3, filters={"organ": "Lung"}).invoke("adenocarcinoma")
    assert docs and {d.metadata["kind"] for d in docs} == {"case"}


def test_atlas_refuses_a_k_over_rests_limit(quick_demo):
    atlas = Atlas(quick_demo / "index", **quick(quick_demo))
    assert len(atlas.search("carcinoma", k=K_MAX)) <= K_MAX
    for call in (atlas.search, atlas.hits):
        with pytest.raises(BadInputError, match=rf"^k must be between 1 and {K_MAX}, not 1000$"):
            call("carcinoma", k=1000)
    with pytest.raises(BadInputError, match="k must be a whole number, not '5'"):
        atlas.search("carcinoma", k="5")


def test_atlas_add_takes_paths_in_a_list_too(tmp_path, demo_corpus):
    primer, cases = demo_corpus / "primer" / "demo-primer.pdf", str(demo_corpus / "cases")
    with Atlas(tmp_path / "index", **quick(tmp_path)) as atlas:
        assert [r["status"] for r in atlas.add([primer, cases])] == ["indexed", "indexed"]
        assert [r["status"] for r in atlas.add(primer, (cases,))] == ["unchanged", "unchanged"]
        with pytest.raises(BadInputError, match=r"^add takes paths \(text or os.PathLike\) or lists of them, not int$"):
            atlas.add(primer, [7])


def test_secrets_are_in_no_repr_and_no_error(tmp_path):
    settings = Settings(**SECRETS)
    assert {name: getattr(settings, name) for name in SECRETS} == SECRETS
    with pytest.raises(BadInputError, match=r"^Atlas takes settings by name") as refused:
        Atlas(tmp_path, settings=settings)
    refusal = r"^bad setting llm_api_key: Input should be a valid string; api_key: Extra inputs"
    with pytest.raises(BadInputError, match=refusal) as bad:  # a key of the wrong type, and one under a wrong name
        load_settings(api_key="s3cret-misnamed", llm_api_key=["s3cret-listed"])
    with pytest.raises(ValueError) as direct:  # pydantic's own error, from Settings built directly
        Settings(llm_api_key=["s3cret-direct"])
    shown = [repr(settings), str(settings), str(refused.value), str(bad.value), str(direct.value)]
    assert not [text for text in shown if "s3cret" in text]
    assert len(str(refused.value)) < 120 and "\n" not in str(refused.value)
    with pytest.raises(BadInputError, match=r"^bad setting weight_bm25=-1: "):  # other values are shown
        load_settings(weight_bm25=-1)


@pytest.mark.parametrize(
    ("index", "settings", "message"),
    [
        ("idx", {"weight_bm25": -1}, r"^bad setting weight_bm25=-1: Input should be greater than"),
        (123, {}, r"^bad setting PATHATLAS_INDEX=123: "),
    ],
)
def test_atlas_settings_that_do_not_fit_are_one_line(tmp_path, index, settings, message):
    """By name as ``load_settings`` refuses them; an index folder that is no path was a TypeError traceback."""
    with pytest.raises(BadInputError, match=message) as refused:
        Atlas(index, home=tmp_path, **settings)
    assert "\n" not in str(refused.value)
