"""Tests of pathatlas.agent: questions and their options, which sentence says what of which option (negation, stances,
superlatives), scoring, the answerers and the rationale."""
