"""The JSON API (docs/API.md): one blueprint under /api with one guard (`blueprint.py`), views per area."""
from . import assets, signoffs, sites, tokens
from .blueprint import body, bp

__all__ = ["assets", "body", "bp", "signoffs", "sites", "tokens"]
