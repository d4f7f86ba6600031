"""The web front door: FastAPI app factory, console templates, static files, i18n."""
