"""Measure the API under load: gunicorn (2 workers, gunicorn.conf.py) on this database, wrk
at 8 connections against each list endpoint beside /api/v1/me/ and /healthz.

    DATABASE_URL=$DATABASE_OWNER_URL python manage.py seed_demo
    DATABASE_OWNER_URL=... DATABASE_URL=<app role> python manage.py bench_api [--seconds 10]

Prints requests per second, p50 and p99 latency and each endpoint's throughput as a share of
/api/v1/me/'s (the bar: every list endpoint at least 0.5, i.e. within 2x). gunicorn runs with
DEBUG off and SSL redirect off (a benchmark on plain HTTP), as the signed-in user `--user`.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from medsync.models import ApiToken, Membership, User
from medsync.services import api_token_issue, api_token_revoke
from medsync.tenancy import scopes_disabled

BASELINE = "/api/v1/me/"
ENDPOINTS = [
    "/healthz",
    BASELINE,
    "/api/v1/pharmacies/",
    "/api/v1/patients/?page_size=25",
    "/api/v1/prescriptions/?page_size=25",
    "/api/v1/fills/?page_size=25",
    "/api/v1/prescribers/?page_size=25",
    "/api/v1/coverages/?page_size=25",
    "/api/v1/drugs/?page_size=25",
    "/api/v1/enrollments/?page_size=25",
    "/api/v1/cycles/",
    "/api/v1/cycles/?page_size=25",
    "/api/v1/messages/?page_size=25",
    "/api/v1/conversations/?page_size=25",
    "/api/v1/message-templates/",
    "/api/v1/imports/",
    # This round's lists: claims, clinical care, service billing.
    "/api/v1/claims/?page_size=25",
    "/api/v1/appointments/?page_size=25",
    "/api/v1/service-offers/?page_size=25",
    "/api/v1/services/?page_size=25",
    "/api/v1/service-claim-lines/?page_size=25",
    "/api/v1/service-claim-exports/?page_size=25",
    "/api/v1/conditions/?page_size=25",
    "/api/v1/allergies/?page_size=25",
    "/api/v1/immunizations/?page_size=25",
    "/api/v1/inpatient-stays/?page_size=25",
    "/api/v1/assessment-templates/",
    "/api/v1/assessment-responses/?page_size=25",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def parse_wrk(output: str) -> dict:
    """Requests/sec, p50 and p99 (ms) and non-2xx answers from `wrk --latency` output."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if not (rate and p50 and p99):
        raise CommandError(f"Could not read wrk's output:\n{output}")
    return {
        "rps": float(rate.group(1)),
        "p50": _milliseconds(p50.group(1)),
        "p99": _milliseconds(p99.group(1)),
        "errors": int(errors.group(1)) if errors else 0,
    }


class Command(BaseCommand):
    help = "Load-test the API with wrk against gunicorn (2 workers) and print the table."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=int, default=10, help="wrk duration per endpoint")
        parser.add_argument("--connections", type=int, default=8)
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
        parser.add_argument("--user", default="pharmacist@maple.example")
        parser.add_argument("--endpoint", action="append", help="Only these paths (repeatable).")

    def handle(self, *args, **options):
        if shutil.which("wrk") is None:
            raise CommandError("wrk is not installed (apt-get install wrk).")
        with scopes_disabled():
            user = User.objects.filter(email=options["user"]).first()
            membership = Membership.objects.filter(user=user).select_related("organization")
            membership = membership.first()
        if user is None or membership is None:
            raise CommandError(f"No member {options['user']}: run `manage.py seed_demo` first.")
        self._analyze()
        token, raw = api_token_issue(user=user, name="bench_api")
        port = _free_port()
        server = self._start_gunicorn(port, options["workers"])
        try:
            self._wait_healthy(port, server)
            results = []
            for path in options["endpoint"] or ENDPOINTS:
                headers = [] if path == "/healthz" else [f"Authorization: Bearer {raw}"]
                url = f"http://127.0.0.1:{port}{path}"
                self._wrk(url, headers, seconds=2, connections=options["connections"])  # warm
                output = self._wrk(
                    url, headers, seconds=options["seconds"], connections=options["connections"]
                )
                results.append((path, parse_wrk(output)))
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            with scopes_disabled():
                api_token_revoke(token=ApiToken.objects.get(pk=token.pk), actor=user)
        self._print(results, options)

    def _analyze(self) -> None:
        """Fresh planner statistics, as autovacuum keeps them in production (seeded rows are
        new: without them a 25-row page sorts every fill of the organization). ANALYZE needs
        the tables' owner: DATABASE_OWNER_URL when set, else this connection (a runtime role
        skips the tables with a warning)."""
        owner_url = os.environ.get("DATABASE_OWNER_URL")
        if owner_url:
            import psycopg2

            with psycopg2.connect(owner_url) as owner, owner.cursor() as cursor:
                cursor.execute("ANALYZE")
            return
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def _start_gunicorn(self, port: int, workers: int) -> subprocess.Popen:
        env = {
            **os.environ,
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "LOG_LEVEL": "WARNING",
        }
        base = Path(settings.BASE_DIR)
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "medsync.wsgi:application",
            "-c",
            str(base / "gunicorn.conf.py"),
            "--access-logfile",
            "/dev/null",
        ]
        return subprocess.Popen(command, cwd=base, env=env, stdout=subprocess.DEVNULL)

    def _wait_healthy(self, port: int, server: subprocess.Popen) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError("gunicorn exited while starting: see its output above.")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise CommandError("gunicorn did not answer /healthz within 60 s.")

    def _wrk(self, url: str, headers: list[str], *, seconds: int, connections: int) -> str:
        command = [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
        ]
        for header in headers:
            command += ["-H", header]
        result = subprocess.run(
            [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        if result.returncode != 0:
            raise CommandError(f"wrk failed: {result.stderr}")
        return result.stdout

    def _print(self, results: list[tuple[str, dict]], options) -> None:
        baseline = next((row for path, row in results if path == BASELINE), None)  # the first
        self.stdout.write(
            f"gunicorn {options['workers']} workers, wrk {options['connections']} connections, "
            f"{options['seconds']} s each, as {options['user']}\n"
        )
        self.stdout.write(f"{'endpoint':<40} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs me':>6}")
        slow = []
        for path, row in results:
            share = row["rps"] / baseline["rps"] if baseline else 0
            flag = f" non-2xx: {row['errors']}" if row["errors"] else ""
            self.stdout.write(
                f"{path:<40} {row['rps']:>8.1f} {row['p50']:>8.1f} {row['p99']:>8.1f} "
                f"{share:>6.2f}{flag}"
            )
            if path.startswith("/api/") and path != BASELINE and share < 0.5:
                slow.append(path)
        if baseline:
            verdict = (
                "every list endpoint within 2x of /api/v1/me/"
                if not slow
                else ("slower than half of /api/v1/me/: " + ", ".join(slow))
            )
            self.stdout.write(verdict)
