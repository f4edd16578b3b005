"""The library behind the pipeline stages, the predict command and the web app."""
