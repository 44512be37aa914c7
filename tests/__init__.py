"""PathAtlas's test suite, a folder per layer (each folder's __init__.py says what it holds); the files every folder
shares (conftest.py, helpers.py, servers.py, uploads.py, bench_oracles.py) stay here."""
