"""Start and stop a real `celery worker` process pointed at this process's database.

The one way the real-worker tests and the benchmarks run a worker: same command line, same
environment (this process's database and Redis, a queue of its own), and `start()` returns
only once the worker answers a ping, so its start-up time never counts against a test's
wait or a benchmark's clock. Each worker gets its own process group, so a test can SIGKILL
the parent and its pool children at once, as an out-of-memory kill or a lost node would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import quote

READY_TIMEOUT_SECONDS = 120.0


def database_url() -> str:
    """This process's default database as a URL a child process can read."""
    from django.db import connection

    db = connection.settings_dict
    user = quote(db["USER"] or "postgres", safe="")
    if db.get("PASSWORD"):
        user += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    hostname: str
    queue: str
    log_path: Path
    _log: IO = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill_group(self) -> None:
        """SIGKILL the worker and its pool children at once (no chance to clean up)."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self) -> None:
        """A warm shutdown (SIGTERM), then SIGKILL if it has not exited in 20 s."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def start_worker(
    queue: str,
    *,
    env: dict[str, str] | None = None,
    include: tuple[str, ...] = (),
    loglevel: str = "INFO",
    log_name: str = "",
) -> WorkerProcess:
    """A prefork worker with one child on `queue`, ready (answering a ping) when returned."""
    from django.conf import settings

    from medsync.celery import app

    hostname = f"{queue}-{os.getpid()}-{time.monotonic_ns()}@localhost"
    child_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DEBUG": "false",
        **(env or {}),
    }
    log_path = Path(settings.BASE_DIR) / "test-artifacts" / f"{log_name or 'worker-' + queue}.log"
    log_path.parent.mkdir(exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 - closed by WorkerProcess.stop()
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "medsync",
        "worker",
        f"--loglevel={loglevel}",
        "--concurrency=1",
        "--pool=prefork",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-Q",
        queue,
        "--hostname",
        hostname,
    ]
    if include:
        command.append(f"--include={','.join(include)}")
    process = subprocess.Popen(
        command,
        cwd=settings.BASE_DIR,
        env=child_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = WorkerProcess(process, hostname, queue, log_path, log)
    try:
        _wait_until_answering(app, worker)
    except BaseException:
        worker.stop()
        raise
    return worker


def _wait_until_answering(app, worker: WorkerProcess) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not worker.alive():
            raise RuntimeError(f"The Celery worker exited at start-up; see {worker.log_path}.")
        if app.control.ping(destination=[worker.hostname], timeout=1.0):
            return
    raise RuntimeError(
        f"The Celery worker did not answer within {READY_TIMEOUT_SECONDS:.0f} s; "
        f"see {worker.log_path}."
    )
