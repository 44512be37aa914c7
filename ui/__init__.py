"""User interfaces: the ``pathatlas`` command, the REST service and the Streamlit app."""
