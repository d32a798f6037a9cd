"""The web layer: the FastAPI app, its settings, security, limits, schemas and routes."""
