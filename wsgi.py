"""WSGI entry point for gunicorn and for ``flask --app wsgi``.

The configuration is chosen by ``CRM_CONFIG`` (development, testing or production).
"""
import os

from crm import create_app

app = create_app(os.environ.get("CRM_CONFIG", "development"))
