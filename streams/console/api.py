"""HTTP routes of the console: pages, the JSON API, the live feed (SSE), health and metrics.

Every route declares who may use it with ``@route(method, path, role)``; ``role=None`` marks the
few public routes. The auth middleware reads that declaration, so a route cannot be added without
deciding its access rule (and the tests enumerate the router to check each one).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.alerts import Alert
from schemas.watchlist import WatchlistEntry
from streams.codecs import describe_validation_error
from streams.config import WatchfloorConfig
from streams.console.actions import ActionPublisher, ActionRejected, OperatorAction, build_action
from streams.console.auth import SESSION_COOKIE, Authenticator, Principal
from streams.console.config import ConsoleConfig, Role
from streams.console.materialiser import ActionRejection, AlertFilter, AlertView, Materialiser
from streams.console.metrics import ConsoleMetrics
from streams.metrics import exposition
from streams.snapshots import SNAPSHOT_TYPES, resolve_snapshot, snapshot_dir

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Session-authenticated POST/DELETE must carry this header: a cross-site form cannot set it.
CSRF_HEADER = "X-Watchfloor-CSRF"
SSE_HEARTBEAT_S = 15.0

# Keys for app state (typed, as aiohttp recommends).
CONFIG = web.AppKey("config", WatchfloorConfig)
CONSOLE = web.AppKey("console", ConsoleConfig)
AUTH = web.AppKey("auth", Authenticator)
VIEW = web.AppKey("view", AlertView)
MATERIALISER = web.AppKey("materialiser", Materialiser)
PUBLISHER = web.AppKey("publisher", ActionPublisher)
METRICS = web.AppKey("metrics", ConsoleMetrics)
STOPPING = web.AppKey("stopping", asyncio.Event)
PRINCIPAL = web.RequestKey("principal", Principal)

ROUTES: list[tuple[str, str, Handler]] = []


def route(method: str, path: str, role: Role | None, page: bool = False) -> Callable[[Handler], Handler]:
    """Declare a route and its minimum role (``None``: public). ``page``: redirect to /login, not 401."""
    def decorate(handler: Handler) -> Handler:
        handler.min_role = role  # type: ignore[attr-defined]
        handler.is_page = page  # type: ignore[attr-defined]
        ROUTES.append((method, path, handler))
        return handler
    return decorate


# -- request bodies (also in the OpenAPI document) --------------------------------------------

class ActionRequest(BaseModel):
    """An operator action on an alert. ``resolve``, ``dismiss`` and ``comment`` need a reason."""

    model_config = ConfigDict(extra="forbid")
    action: OperatorAction
    assignee: str | None = Field(default=None, max_length=64, description="For `assign`.")
    reason: str | None = Field(default=None, max_length=1000)


class ActionAccepted(BaseModel):
    action_id: str
    alert_id: str
    action: OperatorAction
    status: Literal["published"] = "published"


class ActionOutcome(BaseModel):
    """What became of an action: ``pending`` until the alerting agent applied it (the alert's history
    has it) or refused it (``reason`` says why, e.g. a colleague resolved the alert first)."""

    action_id: str
    alert_id: str
    status: Literal["pending", "applied", "rejected"]
    reason: str | None = None


class WatchlistAddRequest(BaseModel):
    """Add or update a plate on the watchlist (audited with the caller's name)."""

    model_config = ConfigDict(extra="forbid")
    plate: str = Field(min_length=1, max_length=16)
    reason: str = Field(min_length=1, max_length=200)
    category: str = Field(default="general", max_length=64)
    priority: int = Field(default=3, ge=1, le=5)
    expires_in_s: float | None = Field(default=None, gt=0, description="Seconds until it stops matching.")
    covert: bool = False
    source: str = Field(default="console", max_length=64)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    username: str
    role: Role
    sees_restricted: bool


# -- auth middleware ---------------------------------------------------------------------------

def principal_of(request: web.Request) -> Principal | None:
    auth = request.app[AUTH]
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return auth.from_token(header[len("Bearer "):].strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    return auth.from_session(cookie) if cookie else None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource_handler = request.match_info.route.handler
    if not hasattr(resource_handler, "min_role"):
        return await handler(request)  # 404/405 answers, and aiohttp's own routes
    minimum: Role | None = resource_handler.min_role
    if minimum is None:
        return await handler(request)
    principal = principal_of(request)
    if principal is None:
        if getattr(resource_handler, "is_page", False):
            raise web.HTTPFound("/login?next=" + request.path)
        raise web.HTTPUnauthorized(text=json.dumps({"error": "login or a bearer token required"}),
                                   content_type="application/json",
                                   headers={"WWW-Authenticate": 'Bearer realm="watchfloor"'})
    if request.method not in ("GET", "HEAD") and principal.via == "session" and not request.headers.get(CSRF_HEADER):
        raise _error(403, f"missing {CSRF_HEADER} header")
    if not principal.at_least(minimum):
        raise _error(403, f"needs role {minimum} or above (you are {principal.role})")
    request[PRINCIPAL] = principal
    return await handler(request)


def _error(status: int, message: str) -> web.HTTPException:
    cls = {400: web.HTTPBadRequest, 403: web.HTTPForbidden, 404: web.HTTPNotFound, 409: web.HTTPConflict,
           422: web.HTTPUnprocessableEntity, 503: web.HTTPServiceUnavailable}[status]
    return cls(text=json.dumps({"error": message}), content_type="application/json")


def _me(request: web.Request) -> Principal:
    principal: Principal = request[PRINCIPAL]
    return principal


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _error(400, "body must be JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _error(422, describe_validation_error(error)) from None


def _dump(alert: Alert) -> dict[str, Any]:
    return alert.model_dump(mode="json")


def _filter(request: web.Request) -> AlertFilter:
    """Filters from the query: repeat a parameter or comma-separate values (``?severity=high,critical``)."""
    def values(name: str) -> frozenset[str]:
        return frozenset(v for raw in request.query.getall(name, []) for v in raw.split(",") if v)
    return AlertFilter(statuses=values("status"), severities=values("severity"), rules=values("rule"),
                       sites=values("site"))


# -- public routes -----------------------------------------------------------------------------

@route("GET", "/healthz", None)
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@route("GET", "/readyz", None)
async def readyz(request: web.Request) -> web.Response:
    materialiser = request.app[MATERIALISER]
    ready = materialiser.ready.is_set()
    body = {"ready": ready, "connected": materialiser.connected, "alerts": len(request.app[VIEW].alerts),
            "caught_up_in_s": materialiser.caught_up_in_s}
    return web.json_response(body, status=200 if ready else 503)


@route("GET", "/metrics", None)
async def metrics(request: web.Request) -> web.Response:
    body = exposition(request.query.getall("name[]", []), request.app[METRICS].registry)
    # aiohttp refuses a charset inside content_type=, so pass the exposition type as a header.
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@route("GET", "/login", None)
async def login_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "login.html")


@route("POST", "/login", None)
async def login(request: web.Request) -> web.Response:
    body: LoginRequest = await _body(request, LoginRequest)
    # scrypt is CPU-bound: run it off the event loop so live feeds keep flowing.
    principal = await asyncio.to_thread(request.app[AUTH].login, body.username, body.password)
    if principal is None:
        log.info("console login failed for user %r", body.username[:64])
        raise web.HTTPUnauthorized(text=json.dumps({"error": "wrong username or password"}),
                                   content_type="application/json")
    log.info("console login: %s (%s)", principal.username, principal.role)
    response = web.json_response(Me(username=principal.username, role=principal.role,
                                    sees_restricted=principal.sees_restricted).model_dump())
    console = request.app[CONSOLE]
    response.set_cookie(SESSION_COOKIE, request.app[AUTH].issue_session(principal), httponly=True,
                        samesite="Strict", secure=console.secure_cookies, max_age=int(console.session_ttl_s),
                        path="/")
    return response


@route("GET", "/static/{name}", None)
async def static(request: web.Request) -> web.FileResponse:
    # Only the files shipped in the package, by exact name: no directory listing, no traversal.
    name = request.match_info["name"]
    if name not in {p.name for p in STATIC_DIR.iterdir() if p.suffix in (".css", ".js")}:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})


@route("GET", "/api/openapi.json", None)
async def openapi(request: web.Request) -> web.Response:
    from streams.console.openapi import openapi_document

    return web.json_response(openapi_document())


# -- pages -------------------------------------------------------------------------------------

@route("GET", "/", "viewer", page=True)
async def index_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@route("GET", "/watchlist", "supervisor", page=True)
async def watchlist_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "watchlist.html", headers={"Cache-Control": "no-cache"})


@route("POST", "/logout", "viewer")
async def logout(request: web.Request) -> web.Response:
    response = web.json_response({"status": "logged out"})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@route("GET", "/api/me", "viewer")
async def me(request: web.Request) -> web.Response:
    principal = _me(request)
    return web.json_response(Me(username=principal.username, role=principal.role,
                                sees_restricted=principal.sees_restricted).model_dump())


# -- alerts ------------------------------------------------------------------------------------

@route("GET", "/api/alerts", "viewer")
async def list_alerts(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    try:
        limit = min(int(request.query.get("limit", console.max_alerts_listed)), console.max_alerts_listed)
    except ValueError:
        raise _error(400, "limit must be an integer") from None
    alerts = request.app[VIEW].visible(_me(request), _filter(request), limit=max(1, limit))
    return web.json_response({"alerts": [_dump(a) for a in alerts], "count": len(alerts)})


@route("GET", "/api/alerts/{alert_id}", "viewer")
async def get_alert(request: web.Request) -> web.Response:
    alert = request.app[VIEW].get(_me(request), request.match_info["alert_id"])
    if alert is None:  # covert alerts answer 404 too, so their existence does not leak
        raise _error(404, "no such alert")
    return web.json_response(_dump(alert))


@route("POST", "/api/alerts/{alert_id}/actions", "operator")
async def act(request: web.Request) -> web.Response:
    principal = _me(request)
    alert = request.app[VIEW].get(principal, request.match_info["alert_id"])
    if alert is None:
        raise _error(404, "no such alert")
    body: ActionRequest = await _body(request, ActionRequest)
    try:
        action = build_action(alert, principal, body.action, body.assignee, body.reason)
    except ActionRejected as rejected:
        raise _error(rejected.status, str(rejected)) from None
    try:
        await request.app[PUBLISHER].publish(alert, action)
    except Exception as error:  # broker down: say so, the operator can retry
        log.warning("could not publish action %s: %s", action.action_id, error)
        raise _error(503, "Kafka is not reachable; the action was not recorded, try again") from None
    request.app[METRICS].actions.labels(action.action).inc()
    request.app[VIEW].action_sent(action)
    log.info("action %s %s on %s by %s", action.action_id, action.action, alert.alert_id, principal.username)
    accepted = ActionAccepted(action_id=action.action_id, alert_id=alert.alert_id, action=body.action)
    return web.json_response(accepted.model_dump(), status=202,
                             headers={"Location": f"/api/actions/{action.action_id}"})


@route("GET", "/api/actions/{action_id}", "operator")
async def action_outcome(request: web.Request) -> web.Response:
    """Whether an action was applied or refused: an API client's answer to the 202 of ``act``."""
    view = request.app[VIEW]
    found = view.action_status(request.match_info["action_id"])
    # Only about alerts the caller may see: a covert alert's actions do not leak its existence.
    if found is None or view.get(_me(request), found[1]) is None:
        raise _error(404, "no such action (or sent before this console started)")
    status, alert_id, rejection = found
    outcome = ActionOutcome(action_id=request.match_info["action_id"], alert_id=alert_id, status=status,
                            reason=rejection.reason if rejection else None)
    return web.json_response(outcome.model_dump(exclude_none=True))


@route("GET", "/api/alerts/{alert_id}/evidence/{index}/snapshot", "viewer")
async def snapshot(request: web.Request) -> web.FileResponse:
    alert = request.app[VIEW].get(_me(request), request.match_info["alert_id"])
    if alert is None:
        raise _error(404, "no such alert")
    try:
        evidence = alert.evidence[int(request.match_info["index"])]
    except (ValueError, IndexError):
        raise _error(404, "no such evidence") from None
    path = resolve_snapshot(snapshot_dir(request.app[CONFIG]), evidence.snapshot_ref)
    if path is None:
        raise _error(404, "no snapshot")
    return web.FileResponse(path, headers={"Content-Type": SNAPSHOT_TYPES[path.suffix.lower()],
                                           "Cache-Control": "private, max-age=3600",
                                           "X-Content-Type-Options": "nosniff"})


@route("GET", "/api/alerts/stream", "viewer")
async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``snapshot`` (the current list), then ``alert`` / ``remove`` per update,
    and ``action_rejected`` when the alerting agent refused one of this user's actions."""
    principal = _me(request)
    where = _filter(request)
    view = request.app[VIEW]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    subscriber = view.subscribe(principal)  # before the snapshot, so no update falls in between
    stopping = request.app[STOPPING]
    try:
        limit = request.app[CONSOLE].max_alerts_listed
        snapshot_alerts = [_dump(a) for a in view.visible(principal, where, limit=limit)]
        await response.write(_sse("snapshot", {"alerts": snapshot_alerts, "at": time.time()}))
        while not stopping.is_set() and not subscriber.overflowed.is_set():
            try:
                alert = await asyncio.wait_for(subscriber.queue.get(), timeout=SSE_HEARTBEAT_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            chunks = [alert]
            while not subscriber.queue.empty() and len(chunks) < 500:  # write bursts in one go
                chunks.append(subscriber.queue.get_nowait())
            out = bytearray()
            for item in chunks:
                if isinstance(item, ActionRejection):
                    out += _sse("action_rejected", {"action_id": item.action_id, "alert_id": item.alert_id,
                                                    "action": item.action, "reason": item.reason})
                elif where.matches(item):
                    out += _sse("alert", _dump(item))
                else:  # it left the filter (e.g. acknowledged while showing only new ones)
                    out += _sse("remove", {"alert_id": item.alert_id})
            await response.write(bytes(out))
        if subscriber.overflowed.is_set():
            request.app[METRICS].sse_dropped.inc()
            log.warning("dropping live client %s: it fell %d updates behind", principal.username,
                        subscriber.queue.maxsize)
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the browser went away
    finally:
        view.unsubscribe(subscriber)
    return response


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


# -- watchlist (supervisors) -------------------------------------------------------------------

@route("GET", "/api/watchlist", "supervisor")
async def watchlist_list(request: web.Request) -> web.Response:
    from streams.watchlist_admin import list_entries

    try:
        entries = await list_entries(request.app[CONFIG])
    except Exception as error:
        log.warning("cannot read the watchlist: %s", error)
        raise _error(503, "Kafka is not reachable") from None
    return web.json_response({"entries": [e.model_dump(mode="json") for e in entries], "count": len(entries)})


@route("POST", "/api/watchlist", "supervisor")
async def watchlist_add(request: web.Request) -> web.Response:
    from streams.watchlist_admin import add_entries

    body: WatchlistAddRequest = await _body(request, WatchlistAddRequest)
    now = time.time()
    try:
        entry = WatchlistEntry(plate=body.plate, reason=body.reason, category=body.category,
                               priority=body.priority, covert=body.covert, source=body.source,
                               expires_at=now + body.expires_in_s if body.expires_in_s else None,
                               added_by=_me(request).username, added_at=now)
        from detectors.plates.normalise import normalise_plate

        entry = entry.model_copy(update={"plate": normalise_plate(entry.plate)})
    except (ValidationError, ValueError) as error:
        message = describe_validation_error(error) if isinstance(error, ValidationError) else str(error)
        raise _error(422, message) from None
    if not entry.plate:
        raise _error(422, "plate: no letters or digits")
    try:
        await add_entries(request.app[CONFIG], [entry], actor=_me(request).username)
    except Exception as error:
        log.warning("cannot add to the watchlist: %s", error)
        raise _error(503, "Kafka is not reachable; nothing was changed") from None
    return web.json_response(entry.model_dump(mode="json"), status=201)


@route("DELETE", "/api/watchlist/{plate}", "supervisor")
async def watchlist_remove(request: web.Request) -> web.Response:
    from streams.watchlist_admin import remove_plate

    try:
        plate = await remove_plate(request.app[CONFIG], request.match_info["plate"], actor=_me(request).username)
    except ValueError as error:
        raise _error(422, str(error)) from None
    except Exception as error:
        log.warning("cannot remove from the watchlist: %s", error)
        raise _error(503, "Kafka is not reachable; nothing was changed") from None
    return web.json_response({"removed": plate})


def add_routes(app: web.Application) -> None:
    # Literal paths before templated ones: /api/alerts/stream must not match /api/alerts/{alert_id}.
    ordered = sorted(ROUTES, key=lambda r: "{" in r[1])
    for method, path, handler in ordered:
        app.router.add_route(method, path, handler)
