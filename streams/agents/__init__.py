"""Thin Faust agents: decode, call a detector, emit. Each module has ``register(app, runtime)``."""
