"""Authentication and roles: scrypt password hashes, hashed API tokens, signed session cookies.

Roles are ordered ``viewer < operator < supervisor < admin``. Covert (restricted) alerts are only
for supervisors and above; ``can_see`` is the one place that rule lives.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass

from streams.console.config import ROLES, ConsoleConfig, ConsoleUser, Role

log = logging.getLogger(__name__)

SESSION_COOKIE = "wf_session"
# scrypt cost: ~50 ms per check on one core; slows password guessing, cheap enough for logins.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A self-describing scrypt hash for the config file.

    >>> verify_password("s3cret", hash_password("s3cret"))
    True
    """
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def hash_token(token: str) -> str:
    """API tokens are 32 random bytes: a plain SHA-256 is enough (no guessing to slow down)."""
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "wft_" + secrets.token_urlsafe(32)


def role_at_least(role: Role, minimum: Role) -> bool:
    return ROLES.index(role) >= ROLES.index(minimum)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making a request, and how they proved it."""

    username: str
    role: Role
    via: str  # "session" or "token"

    def at_least(self, minimum: Role) -> bool:
        return role_at_least(self.role, minimum)

    @property
    def sees_restricted(self) -> bool:
        return self.at_least("supervisor")


class Authenticator:
    """Checks passwords, tokens and session cookies against the configured users."""

    def __init__(self, console: ConsoleConfig, env: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if env is None else env
        self.ttl_s = console.session_ttl_s
        self.users = {u.username: u for u in console.users}
        self.tokens = {h: u for u in console.users for h in u.token_hashes}
        secret = env.get(console.session_secret_env)
        if not secret:
            log.warning("%s is not set: using a random session key (sessions end when this console stops "
                        "and are not shared with other console instances)", console.session_secret_env)
        self._key = (secret or secrets.token_hex(32)).encode()
        # Checked against when the user is unknown, so a login takes as long either way.
        self._dummy_hash = hash_password(secrets.token_hex(8))

    def login(self, username: str, password: str) -> Principal | None:
        user = self.users.get(username)
        stored = user.password_hash if user and user.password_hash else self._dummy_hash
        if verify_password(password, stored) and user is not None and user.password_hash:
            return Principal(user.username, user.role, "session")
        return None

    def from_token(self, token: str) -> Principal | None:
        user = self.tokens.get(hash_token(token))
        return Principal(user.username, user.role, "token") if user else None

    def issue_session(self, principal: Principal, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.ttl_s)
        payload = _b64(f"{principal.username}|{expires}".encode())
        return f"{payload}.{self._sign(payload)}"

    def from_session(self, cookie: str, now: float | None = None) -> Principal | None:
        payload, _, signature = cookie.partition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            username, expires = _unb64(payload).decode().rsplit("|", 1)
            if int(expires) < (time.time() if now is None else now):
                return None
        except (ValueError, UnicodeDecodeError):
            return None
        # Role comes from the current config, not the cookie: a demotion applies at once.
        user: ConsoleUser | None = self.users.get(username)
        return Principal(user.username, user.role, "session") if user else None

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
