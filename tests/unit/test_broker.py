"""The embedded broker launcher: starts, says clearly when the port is taken or the binary missing."""

from __future__ import annotations

import socket

import pytest

from streams.broker import BrokerError, EmbeddedBroker


def test_starts_accepts_connections_and_stops() -> None:
    with EmbeddedBroker() as broker:
        assert broker.pid is not None
        socket.create_connection(("127.0.0.1", broker.port or 0), timeout=2).close()
        process = broker._process
    assert process is not None and process.poll() is not None


def test_port_taken_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(BrokerError, match=f"port {port} .* already in use"):
            EmbeddedBroker(port=port).start()


def test_missing_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", "/nonexistent/tansu")
    with pytest.raises(BrokerError, match="binary missing"):
        EmbeddedBroker().start()
