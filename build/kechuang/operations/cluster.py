"""Serve one immutable database with N Datasette workers behind nginx, and switch releases with no failed request.

Read-only data scales by copying: every worker opens the same immutable file, so workers are
stateless and interchangeable. nginx (from Debian's package, configured from
`deploy/nginx.conf.template`, which the package carries: `kechuang.assets`) balances requests across
them, retries a request on another worker when one dies, caches what the workers mark cacheable and
compresses responses.

Each worker listens on its own Unix socket and nginx reaches worker slot i through a symlink
`w<i>.sock`. Switching to a new release starts new workers on the new file, waits until they
answer, repoints the symlinks (new connections go to the new workers at once), then stops the old
workers gracefully: they finish what they were answering and exit. nginx is never reloaded,
because a reload closes idle keep-alive connections of clients, and a client that sends its next
request at that moment sees a failure. The supervisor also replaces a worker that dies.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kechuang import assets
from kechuang.model.meta import read_meta_file
from kechuang.model.versions import latest_database
from kechuang.operations.launch import datasette_arguments, prepare
from kechuang.project import Project
from kechuang.serve.security.guard import nginx_headers

PID_FILE = "cluster.pid"
STATE_FILE = "state.json"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
DRAIN_DELAY = 1.0  # after repointing, lets connections already accepted by the old workers arrive
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes


def find_nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise RuntimeError("nginx is not installed; install Debian's package: apt-get install nginx")
    return found


def render_template(text: str, values: dict[str, str]) -> str:
    """Replace every `{{ name }}`; a placeholder without a value is an error, not an empty string."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"the nginx template needs a value for {{{{ {name} }}}}")
        return values[name]

    return re.sub(r"\{\{\s*(\w+)\s*\}\}", value, text)


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


@dataclass
class Worker:
    """One Datasette process serving `db` on its own socket, currently or formerly behind slot `slot`."""

    slot: int
    db: Path
    socket: Path
    process: subprocess.Popen

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


class Cluster:
    """nginx plus N Datasette workers, supervised: started, healed, switched to new releases, stopped."""

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
        self.workers: list[Worker] = []
        self.nginx: subprocess.Popen | None = None
        self.db: Path | None = None
        self.generation = 0
        self._spawned = 0
        self._switch_requested = False
        self._stop_requested = False
        self.socket_dir = self.run_dir / "s"
        if len(str(self.socket_dir / "w0.sock")) > _MAX_SOCKET_PATH:
            self.socket_dir = Path(tempfile.mkdtemp(prefix="kechuang-"))

    # Paths ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def slot_link(self, slot: int) -> Path:
        return self.socket_dir / f"w{slot}.sock"

    @property
    def config_path(self) -> Path:
        return self.run_dir / "nginx.conf"

    # Starting ------------------------------------------------------------------------------------

    def start(self, db: Path) -> None:
        """Start N workers on `db`, then nginx in front of them; returns once nginx answers."""
        nginx = find_nginx()
        for folder in ("logs", "tmp", "cache", "inspect"):
            (self.run_dir / folder).mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.purge_cache()
        self.workers = self._start_workers(db)
        for worker in self.workers:
            self._point(worker)
        self.db = db.resolve()
        self.config_path.write_text(self.nginx_config(), encoding="utf-8")
        check = subprocess.run([*self._nginx_command(nginx), "-t"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            self.stop()
            raise RuntimeError(f"nginx rejected {self.config_path}:\n{check.stderr}")
        self._start_nginx(nginx)
        (self.run_dir / PID_FILE).write_text(str(os.getpid()), encoding="utf-8")
        self.write_state()
        self.log(f"Serving {self.url}/ with {self.size} worker(s) on {db} (release {self.release or 'dev'})")

    def _nginx_command(self, nginx: str) -> list[str]:
        return [
            nginx,
            "-e",
            str(self.run_dir / "logs" / "error.log"),
            "-p",
            str(self.run_dir),
            "-c",
            str(self.config_path),
        ]

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
        # max_fails=0: never mark a slot down. A dead worker's socket refuses at once and nginx moves on,
        # whereas a slot marked down would stay down after its worker was replaced, and two slots
        # marked down together would refuse every request ("no live upstreams").
        servers = "\n".join(f"        server unix:{self.slot_link(slot)} max_fails=0;" for slot in range(self.size))
        user = ""
        if os.geteuid() == 0:
            # nginx's workers would otherwise drop to `nobody`, who cannot enter a private run folder.
            entry = pwd.getpwuid(os.geteuid())
            user = f"user {entry.pw_name} {grp.getgrgid(entry.pw_gid).gr_name};"
        values = {
            "user": user,
            "worker_processes": str(max(1, min(os.cpu_count() or 1, 4))),
            "run": str(self.run_dir),
            "dist": str(self.project.dist.resolve()),
            "servers": servers,
            "listen": f"{self.host}:{self.port}",
            "proxy_cache": "kechuang" if self.cache else "off",
            "security_headers": nginx_headers(),
        }
        return render_template(assets.NGINX_TEMPLATE.read_text(encoding="utf-8"), values)

    def _inspect(self, db: Path) -> Path:
        """Row counts of the immutable file, computed once so workers start without counting."""
        target = self.run_dir / "inspect" / f"{self.generation}.json"
        done = subprocess.run(
            [sys.executable, "-m", "datasette", "inspect", str(db), "--inspect-file", str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"datasette inspect {db} failed: {done.stderr}")
        return target

    def _spawn(self, slot: int, db: Path, inspect: Path) -> Worker:
        self._spawned += 1
        path = self.socket_dir / f"{self._spawned}.sock"
        path.unlink(missing_ok=True)
        args = datasette_arguments(db, "127.0.0.1", 0, uds=path, inspect_file=inspect)
        process = subprocess.Popen(
            [sys.executable, "-m", "datasette", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # nginx keeps the access log
            stderr=(self.run_dir / "logs" / f"worker-{slot}.log").open("ab"),
        )
        return Worker(slot, db, path, process)

    def _start_workers(self, db: Path) -> list[Worker]:
        """N new workers on `db`, each answering for exactly that file; stops them all if any fails."""
        db = db.resolve()
        self.generation += 1
        inspect = self._inspect(db)
        workers = [self._spawn(slot, db, inspect) for slot in range(self.size)]
        try:
            for worker in workers:
                self._wait_ready(worker)
        except Exception:
            self._stop_workers(workers)
            raise
        return workers

    def _wait_ready(self, worker: Worker) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not worker.alive:
                raise RuntimeError(f"worker {worker.slot} exited with {worker.process.returncode}; see its log")
            try:
                status, body = get_over_socket(worker.socket, "/-/databases.json")
            except OSError:
                time.sleep(0.1)
                continue
            served = [Path(d["path"]).resolve() for d in json.loads(body)] if status == 200 else []
            if served == [worker.db]:
                return
            raise RuntimeError(f"worker {worker.slot} serves {served}, expected {worker.db}")
        raise RuntimeError(f"worker {worker.slot} did not answer within {START_TIMEOUT:.0f} s")

    def _point(self, worker: Worker) -> None:
        """Send slot `worker.slot`'s new connections to `worker`, atomically."""
        link = self.slot_link(worker.slot)
        temporary = link.with_name(link.name + ".new")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(worker.socket)
        os.replace(temporary, link)

    # Switching, healing, stopping ----------------------------------------------------------------

    @property
    def release(self) -> str:
        return release_of(self.db)["version"] if self.db else ""

    def switch(self, db: Path) -> bool:
        """Serve `db` instead of the current file without failing a request; False (and no change) on failure."""
        db = db.resolve()
        if db == self.db:
            self.log(f"Already serving {db}")
            return True
        started = time.monotonic()
        try:
            fresh = self._start_workers(db)
        except RuntimeError as error:
            self.log(f"Not switching to {db}: {error}")
            return False
        for worker in fresh:
            self._point(worker)
        old, self.workers, self.db = self.workers, fresh, db
        time.sleep(DRAIN_DELAY)
        self._stop_workers(old)
        self.purge_cache()
        self.write_state()
        self.log(f"Switched to {db} (release {self.release or 'dev'}) in {time.monotonic() - started:.1f} s")
        return True

    def heal(self) -> None:
        """Replace workers that died and restart nginx if it died; nginx meanwhile routes around them."""
        for index, worker in enumerate(self.workers):
            if worker.alive:
                continue
            self.log(
                f"Worker {worker.slot} (pid {worker.process.pid}) exited with {worker.process.returncode}; replacing it"
            )
            replacement = self._spawn(worker.slot, worker.db, self.run_dir / "inspect" / f"{self.generation}.json")
            try:
                self._wait_ready(replacement)
            except RuntimeError as error:
                self.log(f"Replacement for worker {worker.slot} failed: {error}")
                self._stop_workers([replacement])
                continue
            self._point(replacement)
            self.workers[index] = replacement
            worker.socket.unlink(missing_ok=True)
            self.write_state()
        if self.nginx is not None and self.nginx.poll() is not None:
            self.log(f"nginx exited with {self.nginx.returncode}; restarting it")
            self._start_nginx(find_nginx())
            self.write_state()

    def _stop_workers(self, workers: list[Worker]) -> None:
        """SIGTERM: each worker stops accepting, finishes the requests it is answering, then exits."""
        for worker in workers:
            if worker.alive:
                worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for worker in workers:
            try:
                worker.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            worker.socket.unlink(missing_ok=True)

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
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)  # graceful: finish in-flight requests
            try:
                self.nginx.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        self._stop_workers(self.workers)
        for path in (self.run_dir / PID_FILE, self.run_dir / STATE_FILE):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def write_state(self) -> None:
        """state.json: what is served and by which processes, for operators, `kechuang release` and tests."""
        state = {
            "pid": os.getpid(),
            "url": self.url + "/",
            "db": str(self.db),
            "release": release_of(self.db) if self.db else {},
            "generation": self.generation,
            "cache": self.cache,
            "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "nginx": {"pid": self.nginx.pid if self.nginx else None, "config": str(self.config_path)},
            "workers": [
                {"slot": w.slot, "pid": w.process.pid, "socket": str(w.socket), "db": str(w.db)} for w in self.workers
            ],
        }
        temporary = self.run_dir / f".{STATE_FILE}.tmp"
        temporary.write_text(json.dumps(state, indent=2), encoding="utf-8")
        os.replace(temporary, self.run_dir / STATE_FILE)

    def run_forever(self) -> None:
        """Supervise until SIGTERM or SIGINT; SIGHUP switches to the newest release in dist/releases/."""
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "_switch_requested", True))
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "_stop_requested", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "_stop_requested", True))
        try:
            while not self._stop_requested:
                if self._switch_requested:
                    self._switch_requested = False
                    newest = latest_database(self.project.releases)
                    if newest is None:
                        self.log(f"No release in {self.project.releases} to switch to")
                    else:
                        self.switch(newest)
                self.heal()
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
