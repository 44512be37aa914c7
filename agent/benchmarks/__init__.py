"""Benchmarks behind ``pathatlas bench``: speed of indexing and search, retrieval quality, QA accuracy."""
