"""The photo benchmark: what it photographs (parts) and how what was read is scored (figures)."""
