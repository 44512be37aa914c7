"""Tests of the doors people use: the pathatlas command (ui/cli.py, its help, export and progress) and the web UI
(ui/streamlit_app.py, ui/web_*.py, ui/present.py; test_browser.py drives it in chromium)."""
