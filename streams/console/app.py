"""Building and running the console: ``create_console_app`` and the ``watchfloor console`` command.

    watchfloor console [--host H] [--port N]      # serve the console
    watchfloor console --hash-password            # prompt for a password, print its hash for the config
    watchfloor console --new-token                # print a new API token and the hash to configure
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import yaml
from aiohttp import web

from streams.config import WatchfloorConfig
from streams.console import api
from streams.console.actions import ActionPublisher
from streams.console.auth import Authenticator, hash_password, hash_token, new_token
from streams.console.config import ConsoleConfig
from streams.console.materialiser import AlertView, Materialiser
from streams.console.metrics import ConsoleMetrics

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    # Everything is served from the package: forbid anything else (no CDN, no inline injection).
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def console_config_of(config: WatchfloorConfig) -> ConsoleConfig:
    """The ``console`` section, or defaults while the config does not have one yet."""
    section = getattr(config, "console", None)
    return section if isinstance(section, ConsoleConfig) else ConsoleConfig()


def create_console_app(config: WatchfloorConfig, console: ConsoleConfig | None = None,
                       env: dict[str, str] | None = None) -> web.Application:
    """The console as an aiohttp app; the materialiser starts with the app.

    >>> from streams.config import WatchfloorConfig
    >>> isinstance(create_console_app(WatchfloorConfig(), ConsoleConfig()), web.Application)
    True
    """
    console = console or console_config_of(config)
    app = web.Application(middlewares=[api.auth_middleware], client_max_size=64 * 1024)
    metrics = ConsoleMetrics()
    view = AlertView(metrics, sse_queue=console.sse_queue)
    app[api.CONFIG] = config
    app[api.CONSOLE] = console
    app[api.AUTH] = Authenticator(console, env)
    app[api.METRICS] = metrics
    app[api.VIEW] = view
    app[api.MATERIALISER] = Materialiser(config, view, metrics)
    app[api.PUBLISHER] = ActionPublisher(config)
    app[api.STOPPING] = asyncio.Event()
    api.add_routes(app)
    app.on_response_prepare.append(_security_headers)
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_end_live_feeds)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    app[api.MATERIALISER].start()
    yield
    await app[api.MATERIALISER].stop()
    await app[api.PUBLISHER].stop()


async def _end_live_feeds(app: web.Application) -> None:
    # Live feeds never end on their own; without this a shutdown waits for every browser.
    app[api.STOPPING].set()
    for subscriber in list(app[api.VIEW].subscribers):
        subscriber.overflowed.set()


def run_console(config: WatchfloorConfig, console: ConsoleConfig, host: str | None = None,
                port: int | None = None) -> None:
    """Blocks serving the console until Ctrl-C / SIGTERM."""
    host = host or console.host
    port = console.port if port is None else port
    if not console.users:
        log.warning("no console users are configured: nobody can log in (see docs/console.md)")
    print(f"watchfloor console on http://{host}:{port}/ (Kafka {config.kafka.bootstrap})", flush=True)
    web.run_app(create_console_app(config, console), host=host, port=port, print=None,
                shutdown_timeout=5.0, handle_signals=True)


# -- CLI ---------------------------------------------------------------------------------------

def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add ``console`` to the ``watchfloor`` command line."""
    parser = subparsers.add_parser("console", help="Serve the operator console (web).",
                                   description="Serve the operator console: live alerts, actions, watchlist.")
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="address to listen on (default: console.host)")
    parser.add_argument("--port", type=int, default=None, help="port (default: console.port, 8080)")
    parser.add_argument("--hash-password", action="store_true",
                        help="prompt for a password (or read one line from stdin) and print its hash")
    parser.add_argument("--new-token", action="store_true", help="print a new API token and its hash")
    parser.set_defaults(handler=cmd_console)


def cmd_console(args: argparse.Namespace) -> int:
    if args.hash_password:
        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        if not password:
            print("empty password", file=sys.stderr)
            return 2
        print(hash_password(password))
        return 0
    if args.new_token:
        token = new_token()
        print(f"token (give to the client, shown once): {token}\ntoken_hashes entry: {hash_token(token)}")
        return 0
    from streams.cli import _config

    config = _config(args)
    console = console_config_of(config)
    extra = getattr(args, "console_config", None)
    if extra is not None:  # until the config embeds `console`: a YAML file with that section
        raw = yaml.safe_load(Path(extra).read_text()) or {}
        console = ConsoleConfig.model_validate(raw.get("console", raw))
    run_console(config, console, host=args.host, port=args.port)
    return 0
