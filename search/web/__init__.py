"""The officers' web UI and HTTP API (FastAPI + Jinja2): ``create_app`` in app.py, run by
``reprowatch serve``. Pages in pages.py, JSON in api.py, accounts in users.py, sessions and
credentials in auth.py, request guards in access.py."""

from .app import create_app

__all__ = ["create_app"]
