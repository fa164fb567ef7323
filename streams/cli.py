"""The ``watchfloor`` command line. Every subcommand has ``--help``.

Where Kafka is: ``--bootstrap`` wins, then ``WATCHFLOOR_BOOTSTRAP``, then a running demo's run
file, then the config file.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from streams.config import ConfigError, WatchfloorConfig, load_config

log = logging.getLogger("watchfloor")

EXIT_USAGE = 2


def _config(args: argparse.Namespace) -> WatchfloorConfig:
    from streams.runfile import read_run_file

    env = dict(os.environ)
    if getattr(args, "bootstrap", None):
        env["WATCHFLOOR_BOOTSTRAP"] = args.bootstrap
    elif "WATCHFLOOR_BOOTSTRAP" not in env and (info := read_run_file()):
        env["WATCHFLOOR_BOOTSTRAP"] = info["bootstrap"]
    return load_config(args.config, env=env)


# -- commands ---------------------------------------------------------------------------------

def cmd_broker(args: argparse.Namespace) -> int:
    import signal

    from streams.broker import WELL_KNOWN_PORT, EmbeddedBroker
    from streams.runfile import remove_run_file, write_run_file

    broker = EmbeddedBroker(port=args.port or WELL_KNOWN_PORT).start()
    write_run_file(bootstrap=broker.bootstrap, broker_pid=broker.pid)
    print(f"embedded Kafka broker listening on {broker.bootstrap} (memory only). Ctrl-C stops it.", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while broker._process and broker._process.poll() is None:
            time.sleep(0.5)
        print("broker exited unexpectedly", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        broker.stop()
        remove_run_file()


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.worker import run_worker

    config = _config(args)
    if args.web_port is not None:
        config = config.model_copy(update={"worker": config.worker.model_copy(update={"web_port": args.web_port})})
    run_worker(config, loglevel=args.loglevel)
    return 0


def cmd_topics_create(args: argparse.Namespace) -> int:
    from streams.topics import topic_specs
    from streams.worker import ensure_topics_with_retry

    config = _config(args)
    asyncio.run(ensure_topics_with_retry(config, timeout=args.wait))
    for spec in topic_specs(config):
        print(f"{spec.name:<40} partitions={config.kafka.partitions} {spec.configs()}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.demo import run_demo

    return run_demo(load_config(args.config), args.config, rate=args.rate, duration=args.duration)


def cmd_simulate_anpr(args: argparse.Namespace) -> int:
    from streams.demo import DEMO_WATCHLIST
    from streams.simulate import PlateReadSimulator, run_anpr_simulation
    from streams.watchlist_admin import RejectedRow, read_csv

    config = _config(args)
    interest = args.plate or [e.plate for e in read_csv(DEMO_WATCHLIST, "simulator") if not isinstance(e, RejectedRow)]
    simulator = PlateReadSimulator([c for c in config.cameras if c.kind == "anpr"], interest,
                                   hit_every=args.hit_every, seed=args.seed, clone_every=args.clone_every)
    print(f"simulating ANPR reads at {args.rate}/s (batches of {args.batch}) to {config.kafka.bootstrap}",
          flush=True)
    sent = asyncio.run(run_anpr_simulation(config, simulator, args.rate, args.batch, args.duration, args.count))
    print(f"sent {sent} reads")
    return 0


def cmd_camera_publish(args: argparse.Namespace) -> int:
    from streams.camera_publisher import PublishOptions, publish_camera

    options = PublishOptions(camera_id=args.camera_id, source=args.source, fps=args.fps, max_width=args.max_width,
                             realtime=not args.fast, loop=args.loop, quality=args.quality,
                             max_frames=args.max_frames)
    try:
        sent = asyncio.run(publish_camera(_config(args), options))
    except KeyboardInterrupt:
        return 0
    except FileNotFoundError as error:
        print(f"watchfloor: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"sent {sent} frames")
    return 0


def cmd_watchlist_add(args: argparse.Namespace) -> int:
    from schemas.watchlist import WatchlistEntry
    from streams.watchlist_admin import add_entries

    expires = time.time() + args.expires_in if args.expires_in else None
    entry = WatchlistEntry(plate=args.plate, reason=args.reason, category=args.category, priority=args.priority,
                           expires_at=expires, covert=args.covert, source=args.source, added_by=args.by,
                           added_at=time.time())
    asyncio.run(add_entries(_config(args), [entry], actor=args.by))
    print(f"added {entry.plate} to the watchlist")
    return 0


def cmd_watchlist_remove(args: argparse.Namespace) -> int:
    from streams.watchlist_admin import remove_plate

    plate = asyncio.run(remove_plate(_config(args), args.plate, actor=args.by))
    print(f"removed {plate} from the watchlist")
    return 0


def cmd_watchlist_list(args: argparse.Namespace) -> int:
    from streams.watchlist_admin import list_entries

    entries = asyncio.run(list_entries(_config(args)))
    for entry in entries:
        if args.json:
            print(entry.model_dump_json())
        else:
            flags = " covert" if entry.covert else ""
            print(f"{entry.plate:<10} p{entry.priority} {entry.category:<12} {entry.reason}{flags}")
    if not args.json:
        print(f"{len(entries)} entries", file=sys.stderr)
    return 0


def cmd_watchlist_import(args: argparse.Namespace) -> int:
    from streams.watchlist_admin import import_csv

    path: Path = args.file
    if not path.is_file():
        print(f"watchfloor: no such file: {path}", file=sys.stderr)
        return EXIT_USAGE
    total = path.stat().st_size

    def progress(rows: int, position: int) -> None:
        print(f"\r  {rows:,} rows read ({100 * position / max(total, 1):.0f}%)", end="", file=sys.stderr, flush=True)

    report = asyncio.run(import_csv(_config(args), path, actor=args.by, progress=progress))
    print(file=sys.stderr)
    for row in report.rejected[: args.show_rejected]:
        print(f"  line {row.line}: {row.error}", file=sys.stderr)
    if len(report.rejected) > args.show_rejected:
        print(f"  ... and {len(report.rejected) - args.show_rejected} more rejected rows", file=sys.stderr)
    print(f"imported {report.imported:,} entries, rejected {len(report.rejected):,} rows "
          f"in {report.seconds:.1f}s")
    return 1 if report.rejected and not report.imported else 0


def cmd_watchlist_export(args: argparse.Namespace) -> int:
    from streams.watchlist_admin import list_entries, write_csv

    entries = asyncio.run(list_entries(_config(args)))
    if args.output:
        with args.output.open("w", newline="", encoding="utf-8") as handle:
            count = write_csv(entries, handle)
    else:
        count = write_csv(entries, sys.stdout)
    print(f"exported {count} entries", file=sys.stderr)
    return 0


def cmd_deployment_add(args: argparse.Namespace) -> int:
    from schemas.deployments import Deployment
    from streams.deployment_admin import declare

    deployment = Deployment.model_validate({"id": args.id, "name": args.name, "sites": args.site,
                                            "start": args.start, "end": args.end,
                                            "raise_severity_by": args.raise_by})
    asyncio.run(declare(_config(args), deployment, actor=args.by))
    print(f"deployment {deployment.id} declared: {', '.join(deployment.sites)} "
          f"{deployment.start.isoformat()} to {deployment.end.isoformat()}")
    return 0


def cmd_deployment_end(args: argparse.Namespace) -> int:
    from streams.deployment_admin import end

    asyncio.run(end(_config(args), args.id, actor=args.by))
    print(f"deployment {args.id} ended")
    return 0


def cmd_deployment_list(args: argparse.Namespace) -> int:
    from streams.deployment_admin import declared

    config = _config(args)
    for deployment in [*config.alerting.deployments, *asyncio.run(declared(config))]:
        print(f"{deployment.id:<16} {deployment.name:<28} {','.join(deployment.sites):<20} "
              f"{deployment.start.isoformat()} .. {deployment.end.isoformat()} +{deployment.raise_severity_by}")
    return 0


def cmd_alerts_tail(args: argparse.Namespace) -> int:
    from streams.alerts_tail import format_alert, tail_alerts

    config = _config(args)

    async def run() -> int:
        shown = 0
        async for alert in tail_alerts(config, timeout=args.timeout, from_beginning=not args.new_only):
            print(alert.model_dump_json() if args.json else format_alert(alert), flush=True)
            shown += 1
            if args.limit and shown >= args.limit:
                break
        return shown

    try:
        shown = asyncio.run(run())
    except KeyboardInterrupt:
        return 0
    # With --limit, running out of time before enough alerts arrived is a failure a script can see.
    return 1 if args.limit and shown < args.limit else 0


# -- parser -----------------------------------------------------------------------------------

def _add(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, handler: Callable[..., int],
         help_text: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="watchfloor", description="CCTV and ANPR streams to operator alerts.")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML config (default: $WATCHFLOOR_CONFIG or config/demo.yaml)")
    parser.add_argument("--bootstrap", help="Kafka host:port (default: $WATCHFLOOR_BOOTSTRAP, a running demo, "
                                            "or the config)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _add(sub, "demo", cmd_demo, "Run broker, worker and simulated cameras; show alerts here.")
    demo.add_argument("--rate", type=float, default=20.0, help="simulated plate reads per second (default 20)")
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")

    broker = _add(sub, "broker", cmd_broker, "Run the embedded Kafka-compatible broker (memory only).")
    broker.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default 19092)")

    worker = _add(sub, "worker", cmd_worker, "Run a stream-processing worker.")
    worker.add_argument("--web-port", type=int, default=None, help="port for /metrics, /healthz, /readyz")
    worker.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])

    topics = _add(sub, "topics", lambda a: EXIT_USAGE, "Kafka topics.")
    topics_sub = topics.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = _add(topics_sub, "create", cmd_topics_create,
                  "Create every watchfloor topic with its partitions, compaction and retention.")
    create.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the broker (default 120)")

    simulate = _add(sub, "simulate", lambda a: EXIT_USAGE, "Publish simulated camera data.")
    simulate_sub = simulate.add_subparsers(dest="what", required=True, metavar="WHAT")
    anpr = _add(simulate_sub, "anpr", cmd_simulate_anpr, "Simulated ANPR plate reads.")
    anpr.add_argument("--rate", type=float, default=20.0, help="reads per second (default 20)")
    anpr.add_argument("--batch", type=int, default=1, help="reads per message (default 1)")
    anpr.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    anpr.add_argument("--count", type=int, default=None, help="stop after this many reads")
    anpr.add_argument("--hit-every", type=int, default=50, help="every Nth read is a vehicle of interest")
    anpr.add_argument("--clone-every", type=int, default=0,
                      help="every Nth read is a vehicle of interest at another site: a cloned plate (0: never)")
    anpr.add_argument("--plate", action="append", help="a vehicle of interest (repeatable; default: demo list)")
    anpr.add_argument("--seed", type=int, default=None, help="random seed for a repeatable run")

    camera = _add(sub, "camera", lambda a: EXIT_USAGE, "Camera feeds.")
    camera_sub = camera.add_subparsers(dest="action", required=True, metavar="ACTION")
    publish = _add(camera_sub, "publish", cmd_camera_publish,
                   "Publish a camera (file, RTSP/HTTP URL or device index) to camera.frames.")
    publish.add_argument("--camera-id", required=True)
    publish.add_argument("--source", required=True, help="file path, rtsp://... or http://... URL, or device index")
    publish.add_argument("--fps", type=float, default=5.0, help="frames per second to publish (default 5)")
    publish.add_argument("--max-width", type=int, default=640, help="scale down wider frames (0: never)")
    publish.add_argument("--fast", action="store_true", help="files: send as fast as possible, not in real time")
    publish.add_argument("--loop", action="store_true", help="files: start again at the end")
    publish.add_argument("--quality", type=int, default=80, help="JPEG quality (default 80)")
    publish.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")

    watchlist = _add(sub, "watchlist", lambda a: EXIT_USAGE, "Manage the watchlist (hotlist).")
    wl_sub = watchlist.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = _add(wl_sub, "add", cmd_watchlist_add, "Add or update a plate.")
    add.add_argument("plate")
    add.add_argument("--reason", required=True, help="why it is listed (shown to operators)")
    add.add_argument("--category", default="general")
    add.add_argument("--priority", type=int, default=3, help="1 (most urgent) to 5")
    add.add_argument("--expires-in", type=float, default=None, help="seconds until the entry expires")
    add.add_argument("--covert", action="store_true", help="hits only visible to supervisors")
    add.add_argument("--source", default="manual")
    add.add_argument("--by", default=os.environ.get("USER", "cli"), help="who is adding it (audited)")
    remove = _add(wl_sub, "remove", cmd_watchlist_remove, "Remove a plate.")
    remove.add_argument("plate")
    remove.add_argument("--by", default=os.environ.get("USER", "cli"))
    listing = _add(wl_sub, "list", cmd_watchlist_list, "List the current watchlist.")
    listing.add_argument("--json", action="store_true", help="one JSON entry per line")

    importing = _add(wl_sub, "import", cmd_watchlist_import,
                     "Import a CSV (header: plate,reason[,category,priority,expires_at,covert,source]).")
    importing.add_argument("file", type=Path)
    importing.add_argument("--by", default=os.environ.get("USER", "cli"), help="who is importing (audited)")
    importing.add_argument("--show-rejected", type=int, default=20, help="rejected rows to print (default 20)")
    exporting = _add(wl_sub, "export", cmd_watchlist_export, "Export the watchlist as CSV (re-importable).")
    exporting.add_argument("-o", "--output", type=Path, default=None, help="file (default: standard output)")

    deployment = _add(sub, "deployment", lambda a: EXIT_USAGE,
                      "Deployment zones: sites where alerts are raised in severity for a time.")
    dep_sub = deployment.add_subparsers(dest="action", required=True, metavar="ACTION")
    dep_add = _add(dep_sub, "add", cmd_deployment_add, "Declare (or replace) a deployment at run time.")
    dep_add.add_argument("id")
    dep_add.add_argument("--name", required=True)
    dep_add.add_argument("--site", action="append", required=True, help="a site id (repeatable)")
    dep_add.add_argument("--start", required=True, help="ISO-8601 with offset, e.g. 2026-11-27T16:00:00+00:00")
    dep_add.add_argument("--end", required=True, help="ISO-8601 with offset")
    dep_add.add_argument("--raise-by", type=int, default=1, help="severity levels added (default 1)")
    dep_add.add_argument("--by", default=os.environ.get("USER", "cli"), help="who declares it (audited)")
    dep_end = _add(dep_sub, "end", cmd_deployment_end, "End a run-time deployment now.")
    dep_end.add_argument("id")
    dep_end.add_argument("--by", default=os.environ.get("USER", "cli"))
    _add(dep_sub, "list", cmd_deployment_list, "List deployments from the config and the run-time topic.")

    alerts = _add(sub, "alerts", lambda a: EXIT_USAGE, "Work with alerts.")
    alerts_sub = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    tail = _add(alerts_sub, "tail", cmd_alerts_tail, "Print alerts as they are raised.")
    tail.add_argument("--json", action="store_true", help="one JSON alert per line")
    tail.add_argument("--limit", type=int, default=None, help="exit after N alerts (exit 1 if fewer arrive)")
    tail.add_argument("--timeout", type=float, default=None, help="exit after S seconds")
    tail.add_argument("--new-only", action="store_true", help="skip alerts raised before now")

    from streams.console.app import register as register_console

    register_console(sub)
    _register_optional(sub)
    return parser


def _register_optional(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Commands that live in their own modules register themselves."""
    from streams import eval_video

    evaluate = _add(sub, "eval", lambda a: EXIT_USAGE, "Offline evaluation without Kafka.")
    eval_video.register(evaluate.add_subparsers(dest="what", required=True, metavar="WHAT"))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    try:
        result: int = args.handler(args)
        return result
    except ConfigError as error:
        print(f"watchfloor: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:
        from pydantic import ValidationError

        from streams.broker import BrokerError
        from streams.clients import BrokerUnavailable

        if isinstance(error, ValidationError):
            from streams.codecs import describe_validation_error

            print(f"watchfloor: {describe_validation_error(error)}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(error, BrokerError | BrokerUnavailable | ValueError):
            print(f"watchfloor: {error}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    raise SystemExit(main())


