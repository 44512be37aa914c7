"""The REST service: ``pathatlas serve``."""
