"""Serve one immutable database with N workers behind nginx, and switch releases with no failed request.

Read-only data scales by copying: every worker opens the same immutable file, so workers are
stateless and interchangeable. The workers are granian's (`kechuang.operations.launch`): granian
starts them on one Unix socket, replaces one that dies, and on SIGHUP replaces them one by one,
each old worker finishing what it is answering. nginx (Debian's package, configured from the
template that the package carries: `kechuang.operations.nginx`) sits in front for caching,
compression and limits, and retries on another worker a request whose worker died.

What this module adds is small: it points `<run dir>/kechuang.db` at the release to serve (new
workers open what it points to when they start), asks granian to reload, waits until no old worker
is left, empties nginx's cache, and keeps `state.json` (what is served, by which processes) for
operators, `kechuang release` and the tests.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kechuang.model.meta import read_meta_file
from kechuang.model.versions import DATABASE_FILE, latest_database
from kechuang.operations.launch import prepare, server_arguments, server_environment
from kechuang.operations.nginx import find_nginx, machine_config
from kechuang.project import Project

PID_FILE = "cluster.pid"
STATE_FILE = "state.json"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes


def release_of(db: Path) -> dict[str, str]:
    """The release version and date recorded in a database's `_meta` table (empty for dev builds)."""
    meta = read_meta_file(db)
    return {"version": meta.get("release_version"), "date": meta.get("release_date")}


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float):
        super().__init__("worker", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def get_over_socket(path: Path, url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    connection = _UnixConnection(path, timeout)
    try:
        connection.request("GET", url)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux): granian's workers."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _stop(process: subprocess.Popen | None, sig: signal.Signals) -> None:
    """Ask gracefully, wait, then kill."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(STOP_TIMEOUT + 5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Cluster:
    """nginx in front of granian's N workers: started, switched to new releases, stopped."""

    def __init__(
        self,
        project: Project,
        workers: int,
        host: str,
        port: int,
        run_dir: Path,
        cache: bool = True,
        log: Callable[[str], None] | None = None,
    ):
        if workers < 1:
            raise ValueError("a cluster needs at least one worker")
        self.project = project
        self.size = workers
        self.host = host
        self.port = port
        self.run_dir = run_dir.resolve()
        self.cache = cache
        self.log = log or (lambda message: print(message, file=sys.stderr, flush=True))
        self.nginx: subprocess.Popen | None = None
        self.server: subprocess.Popen | None = None
        self.db: Path | None = None
        self._switch_requested = False
        self._stop_requested = False
        self.socket = self.run_dir / "s" / "portal.sock"
        if len(str(self.socket)) > _MAX_SOCKET_PATH:
            self.socket = Path(tempfile.mkdtemp(prefix="kechuang-")) / "portal.sock"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.run_dir / "nginx.conf"

    @property
    def current(self) -> Path:
        """The link the workers open: it names the database they serve when they start."""
        return self.run_dir / DATABASE_FILE

    @property
    def release(self) -> str:
        return release_of(self.db)["version"] if self.db else ""

    def workers(self) -> list[int]:
        return children(self.server.pid) if self.server else []

    # Starting ------------------------------------------------------------------------------------

    def start(self, db: Path) -> None:
        """Start the workers on `db`, then nginx in front of them; returns once nginx answers."""
        nginx = find_nginx()
        for folder in ("logs", "tmp", "cache"):
            (self.run_dir / folder).mkdir(parents=True, exist_ok=True)
        self.socket.parent.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        self.purge_cache()
        self._point(db)
        self._start_server()
        self.config_path.write_text(self.nginx_config(), encoding="utf-8")
        check = subprocess.run([*self._nginx_command(nginx), "-t"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            self.stop()
            raise RuntimeError(f"nginx rejected {self.config_path}:\n{check.stderr}")
        self._start_nginx(nginx)
        (self.run_dir / PID_FILE).write_text(str(os.getpid()), encoding="utf-8")
        self.write_state()
        self.log(f"Serving {self.url}/ with {self.size} worker(s) on {db} (release {self.release or 'dev'})")

    def _point(self, db: Path) -> None:
        """Make `current` name `db`, atomically."""
        db = db.resolve()
        temporary = self.current.with_name(self.current.name + ".new")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(db)
        os.replace(temporary, self.current)
        self.db = db

    def _start_server(self) -> None:
        args = server_arguments(uds=self.socket, workers=self.size, pid_file=self.run_dir / "granian.pid")
        self.server = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # nginx keeps the access log
            stderr=(self.run_dir / "logs" / "server.log").open("ab"),
            env={**os.environ, **server_environment(self.current)},
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"the server exited with {self.server.returncode}; see {self.run_dir / 'logs'}")
            with contextlib.suppress(OSError):
                status, body = get_over_socket(self.socket, "/-/databases.json")
                served = [Path(d["path"]).resolve() for d in json.loads(body)] if status == 200 else []
                if served == [self.db]:
                    return
                raise RuntimeError(f"the workers serve {served}, expected {self.db}")
            time.sleep(0.1)
        raise RuntimeError(f"the workers did not answer within {START_TIMEOUT:.0f} s")

    def _nginx_command(self, nginx: str) -> list[str]:
        return [nginx, "-e", str(self.run_dir / "logs" / "error.log"), "-p", str(self.run_dir), "-c", str(self.config_path)]

    def _start_nginx(self, nginx: str) -> None:
        self.nginx = subprocess.Popen(
            [*self._nginx_command(nginx), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.run_dir / "logs" / "nginx.stderr").open("ab"),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.nginx.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.nginx.returncode}; see {self.run_dir / 'logs'}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=1):
                return
            time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen on {self.host}:{self.port} within 30 s")

    def nginx_config(self) -> str:
        return machine_config(
            self.run_dir, self.project.dist.resolve(), self.socket, self.size, f"{self.host}:{self.port}", self.cache
        )

    # Switching, watching, stopping ---------------------------------------------------------------

    def switch(self, db: Path) -> bool:
        """Serve `db` instead of the current file without failing a request; False (and no change) on failure."""
        db = db.resolve()
        if db == self.db:
            self.log(f"Already serving {db}")
            return True
        try:
            release_of(db)  # a file SQLite cannot read, or without _meta, is refused before any worker sees it
        except Exception as error:
            self.log(f"Not switching to {db}: {error}")
            return False
        started, old, previous = time.monotonic(), set(self.workers()), self.db
        self._point(db)
        self.server.send_signal(signal.SIGHUP)  # granian replaces its workers one by one
        deadline = time.monotonic() + START_TIMEOUT + STOP_TIMEOUT * self.size
        while time.monotonic() < deadline:
            now = set(self.workers())
            if not now & old and len(now) == self.size:
                break
            if self.server.poll() is not None:
                raise RuntimeError(f"the server exited with {self.server.returncode} while switching")
            time.sleep(0.1)
        else:
            self.log(f"The workers were not all replaced within the deadline; still switching from {previous}")
            return False
        self.purge_cache()
        self.write_state()
        self.log(f"Switched to {db} (release {self.release or 'dev'}) in {time.monotonic() - started:.1f} s")
        return True

    def watch(self) -> None:
        """Record the workers granian replaced and restart nginx if it died; stop if granian did."""
        if self.server is not None and self.server.poll() is not None:
            raise RuntimeError(f"the server exited with {self.server.returncode}; see {self.run_dir / 'logs'}")
        if self.nginx is not None and self.nginx.poll() is not None:
            self.log(f"nginx exited with {self.nginx.returncode}; restarting it")
            self._start_nginx(find_nginx())
            self.write_state()

    def purge_cache(self) -> None:
        """Empty the proxy cache: nginx treats a missing cache file as a miss and fetches afresh."""
        cache = self.run_dir / "cache"
        if not cache.is_dir():
            return
        for entry in cache.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def stop(self) -> None:
        _stop(self.nginx, signal.SIGQUIT)  # graceful: finish in-flight requests
        _stop(self.server, signal.SIGTERM)  # graceful: workers finish what they are answering
        for path in (self.run_dir / PID_FILE, self.run_dir / STATE_FILE):
            path.unlink(missing_ok=True)
        self.socket.unlink(missing_ok=True)

    def write_state(self) -> None:
        """state.json: what is served and by which processes, for operators, `kechuang release` and tests."""
        state = {
            "pid": os.getpid(),
            "url": self.url + "/",
            "db": str(self.db),
            "release": release_of(self.db) if self.db else {},
            "cache": self.cache,
            "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "nginx": {"pid": self.nginx.pid if self.nginx else None, "config": str(self.config_path)},
            "server": {"pid": self.server.pid if self.server else None, "socket": str(self.socket)},
            "workers": [{"slot": slot, "pid": pid} for slot, pid in enumerate(sorted(self.workers()))],
        }
        temporary = self.run_dir / f".{STATE_FILE}.tmp"
        temporary.write_text(json.dumps(state, indent=2), encoding="utf-8")
        os.replace(temporary, self.run_dir / STATE_FILE)

    def run_forever(self) -> None:
        """Watch until SIGTERM or SIGINT; SIGHUP switches to the newest release in dist/releases/."""
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "_switch_requested", True))
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "_stop_requested", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "_stop_requested", True))
        known = self.workers()
        try:
            while not self._stop_requested:
                if self._switch_requested:
                    self._switch_requested = False
                    newest = latest_database(self.project.releases)
                    if newest is None:
                        self.log(f"No release in {self.project.releases} to switch to")
                    else:
                        self.switch(newest)
                self.watch()
                if (now := self.workers()) != known:
                    known = now
                    self.write_state()
                time.sleep(0.2)
        finally:
            self.log("Stopping")
            self.stop()


def serve_cluster(
    project: Project,
    workers: int,
    host: str,
    port: int,
    db: Path | None = None,
    cache: bool = True,
    run_dir: Path | None = None,
) -> None:
    """`kechuang serve --workers N`: the newest release (or `db`, or the dev build) behind nginx, until stopped."""
    run_dir = run_dir or project.dist / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    if db is None:
        db = latest_database(project.releases)
    if db is None:
        db = prepare(project, None)
    cluster = Cluster(project, workers, host, port, run_dir, cache=cache)
    try:
        cluster.start(db)
    except BaseException:
        cluster.stop()
        raise
    cluster.run_forever()


def running_supervisor(run_dir: Path) -> int | None:
    """The pid of the supervisor serving from `run_dir`, if one is running."""
    try:
        pid = int((run_dir / PID_FILE).read_text(encoding="utf-8"))
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def request_switch(run_dir: Path, version: str, timeout: float = START_TIMEOUT + 60) -> bool | None:
    """Ask a running `kechuang serve --workers` to serve the newest release and wait until it serves `version`.

    None when no portal runs from `run_dir`; True once it serves `version`; False if it did not in time.
    """
    pid = running_supervisor(run_dir)
    if pid is None:
        return None
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            state = json.loads((run_dir / STATE_FILE).read_text(encoding="utf-8"))
            if state.get("release", {}).get("version") == version:
                return True
        if running_supervisor(run_dir) is None:
            return False
        time.sleep(0.2)
    return False
