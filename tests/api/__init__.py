"""Tests of the doors programs use: the REST service (ui/api/, ui/serving.py), MCP, the LangChain tools, Atlas from
Python, and what every door must answer alike."""
