"""`cairn serve --workers N`: N processes, each with a listening socket of its own on the same
port (SO_REUSEPORT), so that the kernel spreads new connections over them.

One socket shared by all workers (uvicorn's own multi-process mode) lets the first worker to
wake accept every connection waiting: eight clients that connect at once all land on one
process and the others stay idle. With a socket each, the kernel picks a worker for each
connection by its addresses. A worker that dies is started again; SIGTERM or SIGINT stops them
all, each finishing the requests it has.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

from server import logs
from server.app import APP_FACTORY

log = logging.getLogger("cairn.workers")

# Workers that die sooner than this after starting, this many times in a row, are failing to
# start (the database gone, say), not crashing now and then: the supervisor stops rather than
# start them again and again.
FAILING_WITHIN = 5.0
FAILURES_IN_A_ROW = 3
STOP_WITHIN = 30.0


def listening_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A TCP socket bound to `host:port` with SO_REUSEPORT, listening unless told not to."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _serve_one(app: str, served: dict[str, Any]) -> None:
    """A worker process: the app the factory `app` makes (by default from its environment, see
    `server.app.worker_environment`) on a socket of its own, logging as the parent does."""
    logs.configure()
    sock = listening_socket(served["host"], served["port"])
    config = uvicorn.Config(app, factory=True, **served)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """Starts the workers, starts again one that dies, and stops them all on a signal."""

    def __init__(self, workers: int, served: dict[str, Any], app: str = APP_FACTORY) -> None:
        self.workers = workers
        self.served = served
        self.app = app
        self.context = multiprocessing.get_context("spawn")
        self.stopping = False
        self.quick_failures = 0

    def run(self) -> int:
        """Serves until a signal: 0, or 1 when workers kept dying as they started."""
        # Bound (not listening) for as long as the workers run: a port another program holds
        # fails here, at once and once, and the port stays this server's.
        held = listening_socket(self.served["host"], self.served["port"], listen=False)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        running: dict[BaseProcess, float] = {}
        failed = False
        try:
            for _ in range(self.workers):
                self._start(running)
            while not (self.stopping or failed):
                for ended in wait([p.sentinel for p in running], timeout=0.5):
                    if self.stopping or not self._replace(running, ended):
                        failed = not self.stopping
                        break
        finally:
            self._stop_all(list(running))
            held.close()
        return 1 if failed else 0

    def _replace(self, running: dict[BaseProcess, float], sentinel: Any) -> bool:
        """Starts another worker in place of the one that ended; False (and none started) when
        workers keep dying as they start."""
        process = next(p for p in running if p.sentinel == sentinel)
        started = running.pop(process)
        process.join()
        quick = time.monotonic() - started < FAILING_WITHIN
        self.quick_failures = self.quick_failures + 1 if quick else 0
        if self.quick_failures >= FAILURES_IN_A_ROW:
            log.error(
                "worker %s exited with %s, the %d in a row to die as it started; stopping",
                process.pid,
                process.exitcode,
                self.quick_failures,
            )
            return False
        log.error("worker %s exited with %s; starting another", process.pid, process.exitcode)
        self._start(running)
        return True

    def _start(self, running: dict[BaseProcess, float]) -> None:
        process = self.context.Process(
            target=_serve_one, args=(self.app, self.served), name="cairn-worker"
        )
        process.start()
        running[process] = time.monotonic()

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _stop_all(self, processes: list[BaseProcess]) -> None:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()
        deadline = time.monotonic() + STOP_WITHIN
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
