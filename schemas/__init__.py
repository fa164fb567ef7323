"""The wire contract: typed models for every topic, and the JSON Schema files generated from them.

Integrators read ``schemas/json/*.json``; ``python -m schemas.generate`` rewrites them and
``tests/unit/test_schemas.py`` fails when they are stale.
"""
