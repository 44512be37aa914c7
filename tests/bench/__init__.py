"""Tests of the pathatlas bench commands (retrieval, qa, image words, peers, search, index, serve, startup, crash):
their statistics, run records and what their reports claim."""
