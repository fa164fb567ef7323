"""Console settings: who may log in, where it listens, where snapshots live.

Embedded in ``WatchfloorConfig`` as ``console``; validated strictly like the rest of the config.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["viewer", "operator", "supervisor", "admin"]

#: Ordered from least to most privileged: a role may do everything the roles before it may.
ROLES: tuple[Role, ...] = ("viewer", "operator", "supervisor", "admin")


class ConsoleUser(BaseModel):
    """One console user. Secrets are stored only as hashes (see ``watchfloor console --hash-password``).

    >>> ConsoleUser(username="ops1", role="operator").role
    'operator'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Role = "viewer"
    password_hash: str | None = Field(default=None, description="scrypt$... from `console --hash-password`.")
    token_hashes: list[str] = Field(default_factory=list,
                                    description="sha256$... of API tokens (from `console --new-token`).")


class ConsoleConfig(BaseModel):
    """The ``console`` section of the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port; 0 picks a free one.")
    session_secret_env: str = Field(
        default="WATCHFLOOR_CONSOLE_SECRET",
        description="Env var with the key that signs session cookies. Unset: a random key per process "
                    "(sessions then end on restart and do not carry across console instances).",
    )
    session_ttl_s: float = Field(default=12 * 3600.0, gt=0, le=7 * 86400, description="Session lifetime.")
    secure_cookies: bool = Field(default=False, description="Mark cookies Secure (set when served over HTTPS).")
    users: list[ConsoleUser] = Field(default_factory=list)
    max_alerts_listed: int = Field(default=500, ge=1, le=100_000, description="Cap on alerts per list response.")
    sse_queue: int = Field(default=2000, ge=10, le=1_000_000,
                           description="Updates buffered per live client before it is dropped (it reconnects).")

    @model_validator(mode="after")
    def _unique_users(self) -> ConsoleConfig:
        names = [u.username for u in self.users]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"users: duplicate username(s) {dupes}")
        return self
