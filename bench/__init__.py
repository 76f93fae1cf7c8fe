"""Standalone benchmarks: run as ``.venv/bin/python -m bench.<name>`` from the project root."""
