"""Production entry point: ``gunicorn wsgi:app``."""

from fieldapi import create_app

app = create_app()
