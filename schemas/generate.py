"""Generate ``schemas/json/*.json`` from the models: ``python -m schemas.generate [--check]``."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path

from pydantic import BaseModel

import schemas

JSON_DIR = Path(__file__).resolve().parent / "json"


def wire_models() -> dict[str, type[BaseModel]]:
    """Every ``WIRE_MODELS`` entry of every module in the package, by schema name."""
    found: dict[str, type[BaseModel]] = {}
    for info in pkgutil.iter_modules(schemas.__path__):
        module = importlib.import_module(f"schemas.{info.name}")
        found.update(getattr(module, "WIRE_MODELS", {}))
    return dict(sorted(found.items()))


def render() -> dict[Path, str]:
    return {
        JSON_DIR / f"{name}.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
        for name, model in wire_models().items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the files on disk are stale")
    args = parser.parse_args(argv)
    wanted = render()
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    extra = [p for p in JSON_DIR.glob("*.json") if p not in wanted]
    if args.check:
        for path in stale + extra:
            print(f"stale: {path.name} (run: python -m schemas.generate)", file=sys.stderr)
        return 1 if stale or extra else 0
    JSON_DIR.mkdir(exist_ok=True)
    for path in extra:
        path.unlink()
    for path, text in wanted.items():
        path.write_text(text)
    print(f"wrote {len(wanted)} schema files to {JSON_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
