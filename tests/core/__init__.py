"""Tests of pathatlas/ (settings, errors, plug-in loading, paths) and of what spans every layer: the import layering,
packaging, deployment files, the tests' own helpers, odd input met at every door."""
