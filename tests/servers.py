"""The real app under gunicorn, for tests that need several processes: started, waited for, always stopped."""
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, folder: Path, *, workers: int, ready_path: str,
             secret: str) -> Iterator[tuple[str, Path]]:
    """(base URL, log file) of `gunicorn -w <workers> --threads 4` on that database, once `ready_path` answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = folder / "gunicorn.log"
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": secret,
           "FIELDKIT_PHOTO_DIR": str(folder / "photos"), "FIELDKIT_BASE_URL": url}
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", "4", "-b", f"127.0.0.1:{port}",
             "--graceful-timeout", "5", "app:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "gunicorn stopped:\n" + log_path.read_text()
            try:
                if requests.get(url + ready_path, timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still loading the app
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer:\n" + log_path.read_text()
            time.sleep(0.2)
        yield url, log_path
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
