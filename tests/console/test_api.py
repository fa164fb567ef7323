"""The console's HTTP API against the real embedded broker: auth on every route, roles, covert
alerts, actions and their audit records on Kafka, snapshots, the live feed, health and metrics."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from schemas.alerts import AlertAction
from schemas.audit import AuditRecord
from streams.config import WatchfloorConfig
from streams.console.api import CSRF_HEADER
from streams.console.app import create_console_app
from streams.console.auth import Authenticator, Principal, hash_password, verify_password
from streams.console.openapi import openapi_document
from streams.snapshots import resolve_snapshot
from tests.conftest import WorkerProcess
from tests.console.conftest import (
    ConsoleServer,
    console_config,
    make_alert,
    make_candidate,
    publish_alert,
    publish_candidate,
    read_topic,
    token_for,
)

pytestmark = pytest.mark.integration

#: Routes anyone may call. Adding a public route means adding it here, on purpose.
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/login"), ("POST", "/login"),
          ("GET", "/static/{name}"), ("GET", "/api/openapi.json")}
#: Pages redirect a browser to the login page instead of answering 401.
PAGES = {("GET", "/"), ("GET", "/watchlist")}


def app_routes() -> list[tuple[str, str]]:
    """Every (method, path) the console serves, read from its router: a new route cannot be missed."""
    app = create_console_app(WatchfloorConfig(), console_config(), env={})
    found = []
    for resource in app.router.resources():
        for route in resource:
            if route.method != "HEAD":
                found.append((route.method, resource.canonical))
    return sorted(found)


ROUTES = app_routes()
PROTECTED = [r for r in ROUTES if r not in PUBLIC]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(role)}"}


async def call(console: ConsoleServer, method: str, path: str, headers: dict[str, str] | None = None,
               body: Any = None, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(
            method, console.url + path, headers=headers or {}, json=body, allow_redirects=False,
            **kwargs) as response:
        text = await response.read()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


async def wait_visible(console: ConsoleServer, alert_id: str, role: str = "supervisor",
                       until: Any = None, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = await call(console, "GET", f"/api/alerts/{alert_id}", auth(role))
        if status == 200 and (until is None or until(body)):
            return dict(body)
        await asyncio.sleep(0.1)
    raise AssertionError(f"alert {alert_id} not visible to {role} within {timeout}s")


# -- every route is guarded ---------------------------------------------------------------------

def test_route_table_matches_the_declared_public_routes() -> None:
    assert {r for r in ROUTES if r in PUBLIC} == PUBLIC, "a public route disappeared"
    assert len(PROTECTED) >= 10


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
@pytest.mark.parametrize("credential", ["missing", "wrong-token", "forged-cookie", "expired-cookie"])
async def test_protected_route_rejects_missing_or_wrong_credential(console: ConsoleServer, method: str, path: str,
                                                                   credential: str) -> None:
    headers = {CSRF_HEADER: "1"}
    cookies: dict[str, str] = {}
    if credential == "wrong-token":
        headers["Authorization"] = "Bearer not-a-token"
    elif credential == "forged-cookie":
        cookies["wf_session"] = "YWRtaW58OTk5OTk5OTk5OQ.forgedsignature"  # "admin|9999999999", unsigned
    elif credential == "expired-cookie":
        principal = Principal("admin", "admin", "session")
        cookies["wf_session"] = console.app_auth().issue_session(principal, now=time.time() - 10 * 86400)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookies=cookies, cookie_jar=jar) as session, session.request(
            method, console.url + concrete(path), headers=headers, json={}, allow_redirects=False) as response:
        if (method, path) in PAGES:
            assert response.status == 302 and response.headers["Location"].startswith("/login")
        else:
            assert response.status == 401
            assert "alert" not in (await response.text()).lower() or "error" in await response.text()


@pytest.mark.parametrize(("method", "path"), sorted(PUBLIC))
async def test_public_routes_answer_without_credentials(console: ConsoleServer, method: str, path: str) -> None:
    if method == "POST":
        return  # POST /login is covered by the login tests
    status, _ = await call(console, method, concrete(path).replace("x1", "console.css"))
    assert status == 200


def test_openapi_documents_every_api_route() -> None:
    documented = {(m.upper(), p) for p, item in openapi_document()["paths"].items() for m in item}
    served = {(m, p) for m, p in ROUTES if p.startswith("/api/") and p != "/api/openapi.json"}
    assert served <= documented, f"undocumented: {served - documented}"
    assert "Alert" in openapi_document()["components"]["schemas"]


# -- login, passwords, sessions ---------------------------------------------------------------

def test_password_hash_round_trip_and_rejects_wrong_password() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong", stored)
    assert not verify_password("x", "garbage")


@pytest.mark.parametrize(("body", "status"), [
    ({"username": "operator", "password": "wrong"}, 401),
    ({"username": "nobody", "password": "operator"}, 401),
    ({"username": "operator"}, 422),
    ({}, 422),
    ({"username": "operator", "password": "operator"}, 200),
])
async def test_login(console: ConsoleServer, body: dict[str, str], status: int) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.post(console.url + "/login", json=body) as response:
            assert response.status == status
            if status == 200:
                assert "HttpOnly" in response.headers["Set-Cookie"]
                assert "SameSite=Strict" in response.headers["Set-Cookie"]
        async with session.get(console.url + "/api/me") as response:
            assert response.status == (200 if status == 200 else 401)


async def test_session_post_needs_csrf_header(console: ConsoleServer, kafka_config: WatchfloorConfig) -> None:
    alert = make_alert()
    await publish_alert(kafka_config, alert)
    await wait_visible(console, alert.alert_id)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await session.post(console.url + "/login", json={"username": "operator", "password": "operator"})
        url = f"{console.url}/api/alerts/{alert.alert_id}/actions"
        async with session.post(url, json={"action": "comment", "reason": "x"}) as response:
            assert response.status == 403
        async with session.post(url, json={"action": "comment", "reason": "x"},
                                headers={CSRF_HEADER: "1"}) as response:
            assert response.status == 202


# -- roles -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "method", "path", "body", "allowed"), [
    ("viewer", "GET", "/api/alerts", None, True),
    ("viewer", "POST", "/api/alerts/{id}/actions", {"action": "acknowledge"}, False),
    ("operator", "POST", "/api/alerts/{id}/actions", {"action": "comment", "reason": "seen"}, True),
    ("operator", "GET", "/api/watchlist", None, False),
    ("operator", "POST", "/api/watchlist", {"plate": "RL1", "reason": "x"}, False),
    ("operator", "DELETE", "/api/watchlist/RL1", None, False),
    ("operator", "GET", "/watchlist", None, False),
    ("supervisor", "GET", "/api/watchlist", None, True),
    ("admin", "GET", "/api/watchlist", None, True),
])
async def test_role_rules(console: ConsoleServer, kafka_config: WatchfloorConfig, role: str, method: str, path: str,
                          body: Any, allowed: bool) -> None:
    if "{id}" in path:
        alert = make_alert()
        await publish_alert(kafka_config, alert)
        await wait_visible(console, alert.alert_id)
        path = path.replace("{id}", alert.alert_id)
    status, answer = await call(console, method, path, auth(role), body)
    if allowed:
        assert status in (200, 201, 202), answer
    else:
        assert status == 403, answer


async def test_watchlist_add_list_remove_is_audited(console: ConsoleServer, kafka_config: WatchfloorConfig) -> None:
    plate = f"CW{int(time.time() * 1000) % 10**6:06d}"
    status, entry = await call(console, "POST", "/api/watchlist", auth("supervisor"),
                               {"plate": plate.lower(), "reason": "console test", "priority": 2})
    assert status == 201 and entry["plate"] == plate and entry["added_by"] == "supervisor"
    status, listing = await call(console, "GET", "/api/watchlist", auth("supervisor"))
    assert plate in [e["plate"] for e in listing["entries"]]
    status, _ = await call(console, "DELETE", f"/api/watchlist/{plate}", auth("admin"))
    assert status == 200
    status, listing = await call(console, "GET", "/api/watchlist", auth("supervisor"))
    assert plate not in [e["plate"] for e in listing["entries"]]
    audits = await read_topic(kafka_config, "audit", lambda r: r.key in (b"supervisor", b"admin")
                              and b"watchlist." in r.value)
    actions = {AuditRecord.model_validate_json(r.value).action for r in audits}
    assert {"watchlist.add", "watchlist.remove"} <= actions


# -- covert alerts -----------------------------------------------------------------------------

async def test_covert_alert_hidden_from_operators_everywhere(console: ConsoleServer,
                                                             kafka_config: WatchfloorConfig) -> None:
    covert = make_alert(restricted=True, title="Covert hit", severity="critical")
    # the operator's live feed is open before the covert alert arrives
    async with aiohttp.ClientSession() as session, session.get(console.url + "/api/alerts/stream",
                                                               headers=auth("operator")) as feed:
        await publish_alert(kafka_config, covert)
        await wait_visible(console, covert.alert_id, role="supervisor")
        marker = make_alert(title="after the covert one")
        await publish_alert(kafka_config, marker)
        seen = await read_feed(feed, until=marker.alert_id)
    assert covert.alert_id not in seen and marker.alert_id in seen

    for role in ("viewer", "operator"):
        status, listing = await call(console, "GET", "/api/alerts?limit=10000", auth(role))
        assert covert.alert_id not in [a["alert_id"] for a in listing["alerts"]]
        assert (await call(console, "GET", f"/api/alerts/{covert.alert_id}", auth(role)))[0] == 404
        assert (await call(console, "GET", f"/api/alerts/{covert.alert_id}/evidence/0/snapshot", auth(role)))[0] == 404
        body = {"action": "comment", "reason": "x"}
        status, _ = await call(console, "POST", f"/api/alerts/{covert.alert_id}/actions", auth(role), body)
        assert status in (403, 404)
    for role in ("supervisor", "admin"):
        status, listing = await call(console, "GET", "/api/alerts?limit=10000", auth(role))
        assert covert.alert_id in [a["alert_id"] for a in listing["alerts"]]
        status, snapshot = await call(console, "GET", f"/api/alerts/{covert.alert_id}/evidence/0/snapshot", auth(role))
        assert status == 200 and snapshot.startswith(b"\xff\xd8")


async def feed_events(feed: aiohttp.ClientResponse, until: Any, timeout: float = 30.0) -> list[tuple[str, Any]]:
    """``(event, data)`` of an open SSE response, up to the first for which ``until(event, data)`` holds."""
    seen: list[tuple[str, Any]] = []
    event = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = (await asyncio.wait_for(feed.content.readline(), deadline - time.monotonic())).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            seen.append((event, json.loads(line[6:])))
            if until(*seen[-1]):
                return seen
    raise AssertionError(f"the awaited event never came (saw {[e for e, _ in seen]})")


async def read_feed(feed: aiohttp.ClientResponse, until: str, timeout: float = 15.0) -> list[str]:
    """Alert ids from ``alert`` and ``snapshot`` events of an open SSE response, up to ``until``."""
    seen: list[str] = []

    def collect(event: str, data: Any) -> bool:
        if event == "snapshot":
            seen.extend(a["alert_id"] for a in data["alerts"])
        elif event != "remove":
            seen.append(data["alert_id"])
        return until in seen

    await feed_events(feed, collect, timeout)
    return seen


async def test_feed_filters_by_severity_and_site(console: ConsoleServer, kafka_config: WatchfloorConfig) -> None:
    high = make_alert(severity="high")
    other_site = make_alert(severity="critical", site_id="station")
    wanted = make_alert(severity="critical")
    async with aiohttp.ClientSession() as session, session.get(
            console.url + "/api/alerts/stream?severity=critical&site=market", headers=auth("operator")) as feed:
        assert feed.headers["Content-Type"].startswith("text/event-stream")
        for alert in (high, other_site, wanted):
            await publish_alert(kafka_config, alert)
        seen = await read_feed(feed, until=wanted.alert_id)
    assert high.alert_id not in seen and other_site.alert_id not in seen
    _, listing = await call(console, "GET", "/api/alerts?severity=critical&site=market&limit=10000",
                            auth("viewer"))
    ids = [a["alert_id"] for a in listing["alerts"]]
    assert wanted.alert_id in ids and high.alert_id not in ids and other_site.alert_id not in ids


# -- actions -----------------------------------------------------------------------------------

async def test_action_goes_to_kafka_with_dedupe_key_and_audit(console: ConsoleServer,
                                                              kafka_config: WatchfloorConfig) -> None:
    alert = make_alert()
    await publish_alert(kafka_config, alert)
    await wait_visible(console, alert.alert_id)
    status, accepted = await call(console, "POST", f"/api/alerts/{alert.alert_id}/actions", auth("operator"),
                                  {"action": "assign", "assignee": "unit-42"})
    assert status == 202
    actions = await read_topic(kafka_config, "alerts.actions", lambda r: accepted["action_id"].encode() in r.value)
    assert actions[0].key == f"{alert.rule}:{alert.subject}".encode()
    action = AlertAction.model_validate_json(actions[0].value)
    assert (action.action, action.by, action.assignee, action.alert_id) == ("assign", "operator", "unit-42",
                                                                             alert.alert_id)
    audits = await read_topic(kafka_config, "audit", lambda r: accepted["action_id"].encode() in r.value)
    record = AuditRecord.model_validate_json(audits[0].value)
    assert (record.actor, record.action, record.target) == ("operator", "alert.assign", alert.alert_id)
    assert abs(record.at - time.time()) < 60
    # the console did not change the alert itself: only the alerting agent does
    assert (await wait_visible(console, alert.alert_id))["assignee"] is None


@pytest.mark.parametrize(("body", "status"), [
    ({"action": "resolve"}, 422),
    ({"action": "dismiss", "reason": "  "}, 422),
    ({"action": "assign"}, 422),
    ({"action": "link"}, 422),
    ({"action": "explode"}, 422),
    ({"action": "acknowledge", "extra": 1}, 422),
])
async def test_invalid_actions_are_refused(console: ConsoleServer, kafka_config: WatchfloorConfig,
                                           body: dict[str, Any], status: int) -> None:
    alert = make_alert()
    await publish_alert(kafka_config, alert)
    await wait_visible(console, alert.alert_id)
    got, answer = await call(console, "POST", f"/api/alerts/{alert.alert_id}/actions", auth("operator"), body)
    assert got in (status, 400), answer


async def test_action_on_closed_alert_conflicts(console: ConsoleServer, kafka_config: WatchfloorConfig) -> None:
    alert = make_alert(status="resolved", resolution="done")
    await publish_alert(kafka_config, alert)
    await wait_visible(console, alert.alert_id)
    status, _ = await call(console, "POST", f"/api/alerts/{alert.alert_id}/actions", auth("operator"),
                           {"action": "acknowledge"})
    assert status == 409


async def outcome_of(console: ConsoleServer, location: str, until: str, timeout: float = 30.0,
                     unknown_at_first: bool = False) -> dict[str, Any]:
    """Poll an action's outcome until it is ``until``; ``unknown_at_first``: a 404 is not yet an error
    (another console learns of the action once it reads it back from Kafka)."""
    deadline = time.monotonic() + timeout
    status, body = 0, None
    while time.monotonic() < deadline:
        status, body = await call(console, "GET", location, auth("operator"))
        if status == 404 and unknown_at_first:
            await asyncio.sleep(0.1)
            continue
        assert status == 200, body
        if body["status"] == until:
            return dict(body)
        await asyncio.sleep(0.1)
    raise AssertionError(f"the action is still {body!r} ({status}), not {until!r}")


async def test_an_applied_action_says_so(console: ConsoleServer, kafka_config: WatchfloorConfig,
                                         worker: WorkerProcess) -> None:
    candidate = make_candidate(severity="high")
    await publish_candidate(kafka_config, candidate)  # through the real worker, which then knows the alert
    await wait_visible(console, candidate.alert_id, timeout=30)
    status, accepted = await call(console, "POST", f"/api/alerts/{candidate.alert_id}/actions", auth("operator"),
                                  {"action": "acknowledge"})
    assert status == 202
    outcome = await outcome_of(console, f"/api/actions/{accepted['action_id']}", until="applied")
    assert outcome == {"action_id": accepted["action_id"], "alert_id": candidate.alert_id, "status": "applied"}
    assert (await wait_visible(console, candidate.alert_id))["status"] == "acknowledged"


async def test_any_console_says_what_became_of_an_action(console: ConsoleServer, kafka_config: WatchfloorConfig,
                                                         worker: WorkerProcess) -> None:
    # Two replicas behind a load balancer: the client posts to one and may ask the other.
    other = ConsoleServer(kafka_config, console_config()).start()
    try:
        other.wait_ready()
        candidate = make_candidate(severity="high")
        await publish_candidate(kafka_config, candidate)
        await wait_visible(console, candidate.alert_id, timeout=30)
        status, accepted = await call(console, "POST", f"/api/alerts/{candidate.alert_id}/actions",
                                      auth("operator"), {"action": "acknowledge"})
        assert status == 202
        location = f"/api/actions/{accepted['action_id']}"
        outcome = await outcome_of(other, location, until="applied", unknown_at_first=True)
        assert outcome == {"action_id": accepted["action_id"], "alert_id": candidate.alert_id, "status": "applied"}
        assert (await call(other, "GET", "/api/actions/act-nonexistent", auth("operator")))[0] == 404
    finally:
        other.stop()


async def test_a_refused_action_reaches_the_operator_who_sent_it(console: ConsoleServer,
                                                                 kafka_config: WatchfloorConfig,
                                                                 worker: WorkerProcess) -> None:
    # Published straight to `alerts`, so the alerting agent has no state for it: it must refuse.
    alert = make_alert()
    await publish_alert(kafka_config, alert)
    await wait_visible(console, alert.alert_id)
    async with aiohttp.ClientSession() as session, \
            session.get(console.url + "/api/alerts/stream", headers=auth("operator")) as mine, \
            session.get(console.url + "/api/alerts/stream", headers=auth("supervisor")) as theirs:
        async with session.post(console.url + f"/api/alerts/{alert.alert_id}/actions", headers=auth("operator"),
                                json={"action": "acknowledge"}) as response:
            assert response.status == 202
            accepted = await response.json()
            location = response.headers["Location"]
        assert location == f"/api/actions/{accepted['action_id']}"
        events = await feed_events(mine, until=lambda event, data: event == "action_rejected")
        refusal = events[-1][1]
        assert refusal["action_id"] == accepted["action_id"] and refusal["action"] == "acknowledge"
        assert refusal["alert_id"] == alert.alert_id and f"no alert {alert.alert_id}" in refusal["reason"]

        outcome = await outcome_of(console, location, until="rejected")
        assert outcome["reason"] == refusal["reason"]
        # Only the operator who acted is told: the supervisor's feed carries alerts, not this.
        await publish_alert(kafka_config, marker := make_alert())
        others = await feed_events(theirs, until=lambda event, data: data.get("alert_id") == marker.alert_id)
        assert "action_rejected" not in [event for event, _ in others]
    assert (await wait_visible(console, alert.alert_id))["status"] == "new"  # nothing changed
    assert (await call(console, "GET", "/api/actions/act-nonexistent", auth("operator")))[0] == 404


async def test_latest_record_per_alert_wins(console: ConsoleServer, kafka_config: WatchfloorConfig) -> None:
    alert = make_alert()
    await publish_alert(kafka_config, alert)
    await publish_alert(kafka_config, alert.model_copy(update={"status": "acknowledged", "count": 3,
                                                               "updated_at": alert.updated_at + 1}))
    body = await wait_visible(console, alert.alert_id, until=lambda a: a["count"] == 3)
    assert body["status"] == "acknowledged"


# -- snapshots ---------------------------------------------------------------------------------

@pytest.mark.parametrize("ref", ["../secret.jpg", "/etc/passwd", "cam-a/../../secret.jpg", "escape.jpg",
                                 "cam-a/frame1.txt", "cam-a/missing.jpg", "", "cam-a\\..\\x.jpg"])
def test_snapshot_path_refuses_traversal_and_non_images(snapshot_dir: Path, ref: str) -> None:
    assert resolve_snapshot(snapshot_dir, ref) is None


def test_snapshot_path_finds_a_stored_snapshot(snapshot_dir: Path) -> None:
    assert resolve_snapshot(snapshot_dir, "cam-a/frame1.jpg") == (snapshot_dir / "cam-a" / "frame1.jpg").resolve()


async def test_snapshot_served_for_a_visible_alert(console: ConsoleServer, kafka_config: WatchfloorConfig) -> None:
    alert = make_alert()
    bad = make_alert(evidence=[alert.evidence[0].model_copy(update={"snapshot_ref": "../secret.jpg"})])
    await publish_alert(kafka_config, alert)
    await publish_alert(kafka_config, bad)
    await wait_visible(console, bad.alert_id)
    await wait_visible(console, alert.alert_id)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{console.url}/api/alerts/{alert.alert_id}/evidence/0/snapshot",
                               headers=auth("viewer")) as response:
            assert response.status == 200 and response.headers["Content-Type"] == "image/jpeg"
        for path in (f"/api/alerts/{bad.alert_id}/evidence/0/snapshot",
                     f"/api/alerts/{alert.alert_id}/evidence/5/snapshot"):
            async with session.get(console.url + path, headers=auth("viewer")) as response:
                assert response.status == 404


# -- health and metrics ------------------------------------------------------------------------

async def test_health_ready_and_metrics(console: ConsoleServer, kafka_config: WatchfloorConfig) -> None:
    alert = make_alert(severity="critical")
    await publish_alert(kafka_config, alert)
    await wait_visible(console, alert.alert_id)
    assert (await call(console, "GET", "/healthz"))[0] == 200
    status, ready = await call(console, "GET", "/readyz")
    assert status == 200 and ready["ready"] and ready["alerts"] >= 1
    status, text = await call(console, "GET", "/metrics")
    body = text.decode()
    assert re.search(r"^watchfloor_console_alerts_materialised_total [1-9]", body, re.M)
    assert re.search(r'^watchfloor_console_open_alerts\{severity="critical"\} [1-9]', body, re.M)
    assert "watchfloor_console_sse_clients" in body
    # A scraper may ask for some families only, as from prometheus-client's own server.
    status, text = await call(console, "GET", "/metrics?name[]=watchfloor_console_open_alerts")
    only = text.decode()
    assert status == 200 and re.search(r'^watchfloor_console_open_alerts\{severity="critical"\} [1-9]', only, re.M)
    assert "watchfloor_console_alerts_materialised_total" not in only


def test_roles_are_ordered() -> None:
    authenticator = Authenticator(console_config(), env={"WATCHFLOOR_CONSOLE_SECRET": "s"})
    viewer = authenticator.from_token(token_for("viewer"))
    supervisor = authenticator.from_token(token_for("supervisor"))
    assert viewer is not None and supervisor is not None
    assert not viewer.at_least("operator") and not viewer.sees_restricted
    assert supervisor.at_least("operator") and supervisor.sees_restricted
    assert authenticator.from_token("nope") is None
