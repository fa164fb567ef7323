"""Adapters from third-party message formats to watchfloor wire models."""


class AdapterError(ValueError):
    """A third-party message that cannot be converted; the message names the offending field."""
