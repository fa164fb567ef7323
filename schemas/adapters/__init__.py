"""Adapters from third-party message formats to watchfloor wire models."""
