"""Tests of pathatlas.indexer: the sources (PDFs, case folders, lecture notes, plug-ins), what an index run reads again
or reuses, its media, progress and cancel checks."""
