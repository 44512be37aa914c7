"""Encoders, vector stores, lexical index and hybrid search over a PathAtlas index."""
