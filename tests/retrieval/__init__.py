"""Tests of pathatlas.retrieval: search and fusion, BM25 and its terms, snippet marks, encoders, vector stores
(test_stores.py is the suite every store must pass), OCR, same-specimen matching, and the index folder: commits,
crashes, upgrades, Qdrant."""
