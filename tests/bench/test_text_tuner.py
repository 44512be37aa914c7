"""The text tuner keeps a learned ranker only when it ranks questions it was not fitted on better."""

import numpy as np

from pathatlas.retrieval.bench.pages import Candidates, choose_ranker
from pathatlas.retrieval.fusion import FEATURES


def question(feature: str) -> Candidates:
    """Three pages: BM25's top (not gold), then a decoy and the gold page BM25 cannot tell apart (the decoy listed
    first, so equal scores put it second); ``feature`` is +1 on the gold page and -1 on the decoy."""
    features = np.zeros((3, len(FEATURES)))
    features[:, FEATURES.index("bm25")] = [1.0, 0.5, 0.5]
    features[:, FEATURES.index(feature)] = [0.0, -1.0, 1.0]
    return Candidates([0, 1, 2], features, np.array([False, False, True]), [None] * 3)


def test_a_learned_ranker_that_only_fits_its_own_questions_is_not_chosen():
    """Even questions are told apart by one feature, odd ones by another: fitted on all twelve, the learned ranker
    puts every gold page second (two questions' worth above the grid's third, past the margin), but fitted on
    either half it ranks the other half no better than the grid: the grid is kept."""
    candidates = [question("coverage" if n % 2 == 0 else "neighbour") for n in range(12)]
    assert not choose_ranker(candidates).source.startswith("learned")


def test_a_learned_ranker_that_holds_on_held_out_halves_is_chosen():
    candidates = [question("coverage") for _ in range(12)]
    chosen = choose_ranker(candidates)
    assert chosen.source.startswith("learned")
    assert all(np.argsort(-chosen.score(c.features))[1] == 2 for c in candidates)
