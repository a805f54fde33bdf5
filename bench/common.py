"""What the benchmarks share: the production web server (gunicorn with gunicorn.conf.py) run
against a benchmark database, started in its own session, waited for and stopped."""
from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def server_env(*, db_url: str, instance: Path, port: int, workers: int, secret: str) -> dict:
    """The production settings of a benchmark's gunicorn (the caller's own settings dropped)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RULEBOOK", "CLOCK", "DATABASE_URL", "TEST_DATABASE_URL", "SESSION_FACTORY")}
    env.update({"ENV": "production", "DATABASE_URL": db_url, "CLOCK": "real", "RULEBOOK": "spc",
                "SECRET_KEY": secret, "IDENTITY_KEY": "test-identity-key",
                "INSTANCE_PATH": str(instance), "FILES_DIR": str(instance / "files"),
                "BIND": f"127.0.0.1:{port}", "WEB_WORKERS": str(workers)})
    return env


class GunicornServer:
    """``gunicorn -c CONF --workers N [EXTRA…] APP`` in its own process session, logging to ``log``."""

    def __init__(self, *, env: dict, port: int, workers: int, log: Path, conf: str = "gunicorn.conf.py",
                 app: str = "wsgi:app", extra: list[str] | None = None, preexec_fn=None):
        self.cmd = [sys.executable, "-m", "gunicorn", "-c", conf, "--workers", str(workers), *(extra or []), app]
        self.port, self.workers = port, workers
        self.log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=preexec_fn, start_new_session=True)

    def worker_pids(self) -> list[int]:
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return []
        return sorted(int(k) for k in kids)

    def wait_ready(self, path: str, timeout: float = 90) -> float:
        """Seconds until ``path`` answers 200 with every worker booted (then a few more requests
        so that each worker has answered once)."""
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", path)
                status = conn.getresponse().status
                conn.close()
                if status == 200 and len(self.worker_pids()) >= self.workers:
                    for _ in range(4 * self.workers):
                        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                        conn.request("GET", path)
                        conn.getresponse().read()
                        conn.close()
                    return time.time() - t0
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer {path} within {timeout:.0f} s")

    def stop(self) -> float:
        """SIGTERM, then SIGKILL to the whole session after 20 s; returns the seconds it took."""
        t0 = time.time()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: master and workers
                except ProcessLookupError:
                    pass
                self.proc.wait()
        self.log.close()
        return time.time() - t0
