"""A PostgreSQL and a Redis of the test's own, started from the installed server binaries on free
ports of 127.0.0.1, with their data under the test's folder, never the machine's shared servers:
a test can stop and restart them without disturbing anyone.

    with OwnPostgres(tmp_path / "pg") as pg, OwnRedis(tmp_path / "redis") as redis_server:
        with AirflowCluster(tmp_path, executor="CeleryExecutor", pg=pg.address, redis=redis_server.address):
            ...
            pg.restart()  # fast shutdown, then the same server again on the same port and data

PostgreSQL refuses to run as root: under root the server runs as the ``postgres`` user (its data
folder chowned to it) with the one capability ``CAP_DAC_READ_SEARCH`` (``setpriv``), so it can
reach its data folder through pytest's 0700 temporary folders without opening them to anyone.
``__exit__`` stops the server (and, for PostgreSQL, every backend it forked), also after a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def postgres_bin() -> Path | None:
    """The folder of the newest installed PostgreSQL's ``initdb`` and ``postgres``, if any."""
    found = sorted(
        (Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/postgres")),
        key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path and shutil.which("initdb") else None


def redis_server_bin() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )


class _Server:
    """One server process in a session of its own, logging to ``<folder>/server.log``."""

    name = "server"

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.host = HOST
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.restarts: list[dict[str, float]] = []

    # subclasses: _command(), _ready(), _stop_signal(mode)
    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def _stop_signal(self, mode: str) -> int:
        raise NotImplementedError

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 60) -> float:
        """Start the server (again: same port, same data) and wait until it answers; returns the
        seconds that took."""
        if self.running():
            raise RuntimeError(f"{self.name} (pid {self.process.pid}) is already running")
        started = time.monotonic()
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"\n===== started by the test at {time.strftime('%H:%M:%S')} =====\n")
            log.flush()
            self.process = subprocess.Popen(
                self._command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.folder,
            )
        deadline = started + timeout
        while not self._ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not ready on port {self.port} within {timeout}s:\n{self.log_tail()}")
            time.sleep(0.1)
        return time.monotonic() - started

    def stop(self, mode: str = "fast", timeout: float = 60) -> float:
        """Stop the server and wait until its process (and, for PostgreSQL, every backend in its
        session) has exited; SIGKILL to its whole process group after ``timeout``. Returns the
        seconds that took."""
        started = time.monotonic()
        if self.process is None:
            return 0.0
        if self.process.poll() is None:
            self._signal_group(self._stop_signal(mode) if mode != "kill" else signal.SIGKILL)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(timeout=30)
        # Backends or forked savers left behind by a crashed leader go too.
        self._signal_group(signal.SIGKILL)
        return time.monotonic() - started

    def restart(self, mode: str = "fast", down: float = 0.0) -> dict[str, float]:
        """Stop (``mode``), stay down ``down`` seconds, start again on the same port and data.
        Returns (and records in ``restarts``) how long stopping and starting took."""
        stopped = self.stop(mode)
        time.sleep(down)
        started = self.start()
        record = {"stop_seconds": stopped, "down_seconds": down, "start_seconds": started}
        self.restarts.append(record)
        return record

    def _signal_group(self, sig: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._prepare()
            self.start()
        except BaseException:
            self.stop("kill")
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop("fast", timeout=30)

    def _prepare(self) -> None:
        pass


class OwnPostgres(_Server):
    """A PostgreSQL server on 127.0.0.1 only (no Unix socket), trust authentication for user
    ``postgres``, data in ``<folder>/data``. ``stop("fast")`` is ``pg_ctl stop``'s default (SIGINT:
    clients are disconnected, a checkpoint is written); ``stop("immediate")`` is SIGQUIT (no
    checkpoint: the next start replays the WAL, as after a crash); ``stop("kill")`` SIGKILLs it."""

    name = "postgres"
    user = "postgres"

    def __init__(self, folder: Path):
        super().__init__(folder)
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise FileNotFoundError("no PostgreSQL server binaries (initdb, postgres) installed")
        self.bin_dir = bin_dir
        self.data = self.folder / "data"

    @property
    def address(self) -> dict[str, object]:
        """host, port and user, as ``cluster.PG``."""
        return {"host": self.host, "port": self.port, "user": self.user}

    def _as_server_user(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        return [
            "setpriv",
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--inh-caps=+dac_read_search",
            "--ambient-caps=+dac_read_search",
        ]

    def _prepare(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            self.folder.chmod(0o700)
            self.log_path.touch()
            shutil.chown(self.log_path, "postgres", "postgres")
        result = subprocess.run(
            [
                *self._as_server_user(),
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stdout}{result.stderr}")

    def _command(self) -> list[str]:
        return [
            *self._as_server_user(),
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-c",
            f"listen_addresses={self.host}",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=32MB",
            # No fsync: a test server on a shared disk. A server process killed still loses nothing
            # committed (the WAL is in the OS's page cache); only a machine crash would.
            "-c",
            "fsync=off",
        ]

    def _ready(self) -> bool:
        import psycopg2

        try:
            psycopg2.connect(dbname="postgres", connect_timeout=2, **self.address).close()  # type: ignore[arg-type]
        except psycopg2.OperationalError:
            return False
        return True

    def _stop_signal(self, mode: str) -> int:
        return {"fast": signal.SIGINT, "immediate": signal.SIGQUIT, "smart": signal.SIGTERM}[mode]


class OwnRedis(_Server):
    """A Redis server on 127.0.0.1 only, its append-only file in ``folder`` (``appendfsync
    everysec``, as a broker that must not lose queued messages across a restart is configured).
    ``stop("fast")`` is SIGTERM (Redis flushes the AOF and exits); ``stop("kill")`` SIGKILLs it."""

    name = "redis"

    def __init__(self, folder: Path):
        super().__init__(folder)
        binary = redis_server_bin()
        if binary is None:
            raise FileNotFoundError("no redis-server installed")
        self.binary = binary

    @property
    def address(self) -> tuple[str, int]:
        """(host, port), as ``cluster.REDIS``."""
        return (self.host, self.port)

    def _command(self) -> list[str]:
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--protected-mode",
            "yes",
            "--dir",
            str(self.folder),
            "--daemonize",
            "no",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--databases",
            "16",
        ]

    def _ready(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(self.host, self.port, socket_connect_timeout=1, socket_timeout=2).ping())
        except redis.RedisError:
            return False

    def _stop_signal(self, mode: str) -> int:
        return signal.SIGTERM
