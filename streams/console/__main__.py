"""``python -m streams.console``: the console command before it is wired into ``watchfloor``.

Takes the global options too, plus ``--console-config FILE`` (YAML with a ``console:`` section).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from streams.console.app import add_arguments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.console", description="The operator console.")
    parser.add_argument("--config", type=Path, default=None, help="watchfloor YAML config")
    parser.add_argument("--bootstrap", default=None, help="Kafka host:port")
    parser.add_argument("--console-config", type=Path, default=None,
                        help="YAML with a `console:` section (until the main config embeds it)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
