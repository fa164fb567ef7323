"""The console's OpenAPI 3.1 document: paths written here, schemas generated from the pydantic models.

Served at ``/api/openapi.json`` so other control-room systems can generate a client.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from schemas.alerts import Alert
from schemas.watchlist import WatchlistEntry
from streams.console.api import ActionAccepted, ActionOutcome, ActionRequest, LoginRequest, Me, WatchlistAddRequest
from streams.console.materialiser import ACTIONS_REMEMBERED

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "401": {"description": "No or a wrong credential."},
    "403": {"description": "The caller's role is too low (or a session request lacks X-Watchfloor-CSRF)."},
}
FILTERS = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"},
     "description": f"{what}; repeat the parameter or comma-separate values."}
    for name, what in (("status", "new, acknowledged, resolved, dismissed"),
                       ("severity", "info, low, medium, high, critical"),
                       ("rule", "rule name, e.g. watchlist_hit"), ("site", "site id"))
]
ALERT_ID = {"name": "alert_id", "in": "path", "required": True, "schema": {"type": "string"}}


@cache
def openapi_document() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "validation" if m in (ActionRequest, WatchlistAddRequest, LoginRequest) else "serialization")
         for m in (Alert, ActionRequest, ActionAccepted, ActionOutcome, WatchlistEntry, WatchlistAddRequest,
                   LoginRequest, Me)],
        ref_template=REF,
    )
    role = "Needs role {}. Covert (restricted) alerts are only visible to supervisors and admins."
    paths: dict[str, Any] = {
        "/api/alerts": {"get": {
            "summary": "List alerts, most recently updated first", "description": role.format("viewer"),
            "parameters": [*FILTERS, {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
            "responses": {"200": _json({"type": "object", "properties": {
                "alerts": {"type": "array", "items": _ref("Alert")}, "count": {"type": "integer"}}}), **ERRORS}}},
        "/api/alerts/{alert_id}": {"get": {
            "summary": "One alert with its evidence and history", "description": role.format("viewer"),
            "parameters": [ALERT_ID],
            "responses": {"200": _json(_ref("Alert")), "404": {"description": "No such (visible) alert."},
                          **ERRORS}}},
        "/api/alerts/stream": {"get": {
            "summary": "Live alerts as server-sent events",
            "description": role.format("viewer") + " Events: `snapshot` {alerts: [...]} first, then `alert` "
                           "(an Alert, new or updated), `remove` {alert_id} (no longer matches the filters) "
                           "and `action_rejected` {action_id, alert_id, action, reason} (the alerting agent "
                           "refused an action of this user's).",
            "parameters": FILTERS,
            "responses": {"200": {"description": "text/event-stream",
                                  "content": {"text/event-stream": {"schema": {"type": "string"}}}}, **ERRORS}}},
        "/api/alerts/{alert_id}/actions": {"post": {
            "summary": "Acknowledge, assign, resolve, dismiss or comment on an alert",
            "description": role.format("operator") + " The action goes to the alerting agent via the "
                           "`alerts.actions` topic and is audited; the updated alert follows on the feed. "
                           "`Location` names where to ask what became of it (`/api/actions/{action_id}`).",
            "parameters": [ALERT_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ActionRequest")}}},
            "responses": {"202": _json(_ref("ActionAccepted"), "Published"),
                          "404": {"description": "No such (visible) alert."},
                          "409": {"description": "Not possible in the alert's state."},
                          "422": {"description": "Invalid body (e.g. resolve without a reason)."},
                          "503": {"description": "Kafka unreachable; nothing recorded."}, **ERRORS}}},
        "/api/actions/{action_id}": {"get": {
            "summary": "What became of an action: pending, applied or rejected (with the reason)",
            "description": role.format("operator") + " Known for actions any console sent since this one started "
                           f"(the newest {ACTIONS_REMEMBERED:,}), whichever console is asked.",
            "parameters": [{"name": "action_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _json(_ref("ActionOutcome")),
                          "404": {"description": "No such action known here (or on an alert you cannot see)."},
                          **ERRORS}}},
        "/api/alerts/{alert_id}/evidence/{index}/snapshot": {"get": {
            "summary": "The snapshot image of one evidence item", "description": role.format("viewer"),
            "parameters": [ALERT_ID, {"name": "index", "in": "path", "required": True,
                                      "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "JPEG or PNG",
                                  "content": {"image/jpeg": {}, "image/png": {}}}, "404": {"description": "None."},
                          **ERRORS}}},
        "/api/watchlist": {
            "get": {"summary": "The current watchlist", "description": "Needs role supervisor.",
                    "responses": {"200": _json({"type": "object", "properties": {
                        "entries": {"type": "array", "items": _ref("WatchlistEntry")},
                        "count": {"type": "integer"}}}), **ERRORS}},
            "post": {"summary": "Add or update a plate (audited)", "description": "Needs role supervisor.",
                     "requestBody": {"required": True,
                                     "content": {"application/json": {"schema": _ref("WatchlistAddRequest")}}},
                     "responses": {"201": _json(_ref("WatchlistEntry"), "Added"), "422": {"description": "Invalid."},
                                   **ERRORS}}},
        "/api/watchlist/{plate}": {"delete": {
            "summary": "Remove a plate (audited)", "description": "Needs role supervisor.",
            "parameters": [{"name": "plate", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "Removed"}, **ERRORS}}},
        "/api/me": {"get": {"summary": "Who the credential belongs to", "responses": {"200": _json(_ref("Me")),
                                                                                      **ERRORS}}},
        "/login": {"post": {"summary": "Start a browser session (sets the wf_session cookie)",
                            "security": [],
                            "requestBody": {"required": True,
                                            "content": {"application/json": {"schema": _ref("LoginRequest")}}},
                            "responses": {"200": _json(_ref("Me")), "401": {"description": "Wrong credential."}}}},
        "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "OK"}}}},
        "/readyz": {"get": {"summary": "Ready once caught up with the alerts topic", "security": [],
                            "responses": {"200": {"description": "Ready"}, "503": {"description": "Not yet"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "security": [],
                             "responses": {"200": {"description": "text/plain exposition format"}}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "watchfloor console API", "version": "1",
                 "description": "Alerts, operator actions and the watchlist of a watchfloor control room. "
                                "Authenticate with `Authorization: Bearer <token>` (tokens are configured per "
                                "user) or the session cookie from POST /login; session-authenticated POST/DELETE "
                                "requests must send the header `X-Watchfloor-CSRF: 1`."},
        "components": {"schemas": defs["$defs"],
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                           "session": {"type": "apiKey", "in": "cookie", "name": "wf_session"}}},
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
    }
