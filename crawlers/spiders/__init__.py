"""Spiders; every source is built from YAML, no per-site Python."""
