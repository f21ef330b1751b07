"""ASGI entry point for uvicorn: ``hms.asgi:app``."""

from hms.main import create_app

app = create_app()
