#!/usr/bin/env python3
"""Run a local Airflow 3 with its UI in the background (what ``make airflow`` does).

Usage: airflow_local.py start|stop|status

``start`` migrates the metadata DB, creates the ``word2vec_training`` pool (1 slot), then starts
the scheduler, dag-processor, api-server and triggerer (and Celery workers with CeleryExecutor),
each in its own session, logging to ``$AIRFLOW_HOME/logs/<name>.log`` with its pid in
``$AIRFLOW_HOME/run/<name>.pid``. It waits until the api-server answers and prints the UI address
and the ``admin`` login. It refuses to start while processes of a previous start are alive.
``stop`` ends every process it started (SIGTERM to each process group, SIGKILL after
``AIRFLOW_STOP_TIMEOUT`` seconds, default 30) and removes the pid files. ``status`` lists them.

Environment (the Makefile sets the first five):
  AIRFLOW_HOME                           default <project>/.airflow
  AIRFLOW__CORE__DAGS_FOLDER/PLUGINS_FOLDER  default <project>/dags, <project>/plugins
  AIRFLOW__CORE__LOAD_EXAMPLES           default False
  PYTHONPATH                             the project root is prepended if missing
  AIRFLOW_PORT, AIRFLOW_HOST             api-server port (8080) and bind address (127.0.0.1)
  AIRFLOW__DATABASE__SQL_ALCHEMY_CONN    unset: SQLite in AIRFLOW_HOME; a postgresql URL is used as is
  AIRFLOW__CORE__EXECUTOR                LocalExecutor (default; the only one on SQLite) or
                                         CeleryExecutor (PostgreSQL only)
  AIRFLOW__CELERY__BROKER_URL            default redis://127.0.0.1:6379/0 (CeleryExecutor)
  AIRFLOW__CELERY__RESULT_BACKEND        default db+<the metadata DB URL> (Airflow's own default)
  AIRFLOW_CELERY_WORKERS                 Celery workers to start: default 1 with CeleryExecutor, else 0
  AIRFLOW_CELERY_CONCURRENCY             task slots per Celery worker, default 1
  AIRFLOW_CELERY_WORKER_DIRS             a folder: each Celery worker gets its own HOME, TMPDIR and working
                                         directory under <folder>/celery-worker-<N>/, as workers on hosts
                                         that share no disk have (default: unset, the workers share them)
  AIRFLOW__CORE__AUTH_MANAGER            default SimpleAuthManager (a subclass of it keeps the login)
  AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS  default admin:admin (keep admin in any other list)
  AIRFLOW__API_AUTH__JWT_SECRET          default: generated once into $AIRFLOW_HOME/jwt_secret
  AIRFLOW_START_TIMEOUT                  seconds to wait for the api-server, default 240
  AIRFLOW_STOP_TIMEOUT                   seconds between SIGTERM and SIGKILL in stop, default 30
  AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL / MIN_FILE_PROCESS_INTERVAL  default 30 / 15 s here

Python standard library only: it runs before anything else is known to work.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
POOL = ("word2vec_training", "1", "serializes Word2Vec training")
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
USER = "admin"
#: The versions page of the word2vec UI plugin (plugins/word2vec_ui.py).
VERSIONS_PAGE = "/word2vec/versions"
# Start order: the api-server last, so that the others are already up when it first answers.
BASE_SERVICES = ("scheduler", "dag-processor", "triggerer", "api-server")


# --------------------------------------------------------------------------- environment


def airflow_home(environ: dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get("AIRFLOW_HOME") or PROJECT_ROOT / ".airflow").expanduser().resolve()


def run_dir(home: Path) -> Path:
    return home / "run"


def airflow_executable() -> str:
    """The ``airflow`` entry point next to this interpreter (the venv's), else the one on PATH."""
    candidate = Path(sys.executable).parent / "airflow"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("airflow")
    if not found:
        raise SystemExit("cannot find the airflow command: run this with the project's .venv/bin/python")
    return found


def read_or_create_secret(path: Path) -> str:
    """A random secret kept in ``path`` (mode 600), created on first use and reused afterwards."""
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    value = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


class Settings:
    """Everything ``start`` decides from the environment, and the environment of the processes."""

    def __init__(self, environ: dict[str, str]):
        self.home = airflow_home(environ)
        self.port = int(environ.get("AIRFLOW_PORT") or 8080)
        self.host = environ.get("AIRFLOW_HOST") or "127.0.0.1"
        # The address clients (the task runners, this script) use to reach the api-server.
        self.connect_host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        self.base_url = f"http://{self.connect_host}:{self.port}"
        self.ui_url = f"http://localhost:{self.port}" if self.connect_host == "127.0.0.1" else self.base_url
        self.start_timeout = float(environ.get("AIRFLOW_START_TIMEOUT") or 240)

        self.db_url = environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
        self.sqlite = not self.db_url or self.db_url.startswith("sqlite")
        if not self.sqlite and not self.db_url.startswith("postgresql"):
            raise SystemExit(
                f"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN must be a sqlite or postgresql URL, got {mask_url(self.db_url)}"
            )
        self.executor = environ.get("AIRFLOW__CORE__EXECUTOR") or "LocalExecutor"
        executor_name = self.executor.rsplit(".", 1)[-1]
        if executor_name not in ("LocalExecutor", "CeleryExecutor"):
            raise SystemExit(f"AIRFLOW__CORE__EXECUTOR={self.executor}: use LocalExecutor or CeleryExecutor")
        self.celery = executor_name == "CeleryExecutor"
        if self.sqlite and self.celery:
            raise SystemExit(
                "CeleryExecutor needs PostgreSQL: set AIRFLOW__DATABASE__SQL_ALCHEMY_CONN to a "
                "postgresql URL (SQLite works with the default LocalExecutor only)"
            )
        self.celery_workers = int(environ.get("AIRFLOW_CELERY_WORKERS") or (1 if self.celery else 0))
        if self.celery_workers and not self.celery:
            raise SystemExit("AIRFLOW_CELERY_WORKERS needs AIRFLOW__CORE__EXECUTOR=CeleryExecutor")
        self.celery_concurrency = int(environ.get("AIRFLOW_CELERY_CONCURRENCY") or 1)

        env = dict(environ)
        env["AIRFLOW_HOME"] = str(self.home)
        env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(PROJECT_ROOT / "dags"))
        env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(PROJECT_ROOT / "plugins"))
        env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        python_path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if str(PROJECT_ROOT) not in python_path:
            env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *python_path])
        # New or changed DAG files show up within seconds instead of the 5 minutes of the default.
        env.setdefault("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "30")
        env.setdefault("AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL", "15")
        env["AIRFLOW__CORE__EXECUTOR"] = self.executor
        # Login with a generated password, never "everyone is admin". The tests set a subclass of
        # SimpleAuthManager that denies some users, and users beside admin (admin must stay).
        env.setdefault("AIRFLOW__CORE__AUTH_MANAGER", SIMPLE_AUTH_MANAGER)
        env.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", f"{USER}:admin")
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "False"
        env["AIRFLOW__API__HOST"] = self.host
        env["AIRFLOW__API__PORT"] = str(self.port)
        # Task runners report to the api-server's execution API, on the port chosen here.
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"{self.base_url}/execution/"
        if self.celery:
            env.setdefault("AIRFLOW__CELERY__BROKER_URL", "redis://127.0.0.1:6379/0")
        self.env = env

    def finish_env(self) -> None:
        """Settings that write into AIRFLOW_HOME (called once start has decided to go ahead)."""
        if not self.env.get("AIRFLOW__API_AUTH__JWT_SECRET"):
            # Every process must sign and check task and UI tokens with the same secret.
            self.env["AIRFLOW__API_AUTH__JWT_SECRET"] = read_or_create_secret(self.home / "jwt_secret")

    @property
    def passwords_file(self) -> Path:
        configured = self.env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
        return Path(configured) if configured else self.home / "simple_auth_manager_passwords.json.generated"

    def service_env_and_cwd(self, name: str) -> tuple[dict[str, str], Path]:
        """The environment and working directory of service ``name``: the shared ones, except for a
        Celery worker under ``AIRFLOW_CELERY_WORKER_DIRS``, which gets a HOME, TMPDIR and working
        directory of its own (created here)."""
        isolated = self.env.get("AIRFLOW_CELERY_WORKER_DIRS", "").strip()
        if not (isolated and name.startswith("celery-worker-")):
            return self.env, PROJECT_ROOT
        own = Path(isolated) / name
        for folder in ("home", "tmp", "cwd"):
            (own / folder).mkdir(parents=True, exist_ok=True)
        return {**self.env, "HOME": str(own / "home"), "TMPDIR": str(own / "tmp")}, own / "cwd"

    def services(self) -> list[tuple[str, list[str]]]:
        """(name, airflow arguments) of every process to start, in start order."""
        commands = {
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer"],
            "api-server": ["api-server", "--host", self.host, "--port", str(self.port)],
        }
        services = [(name, commands[name]) for name in BASE_SERVICES]
        for number in range(1, self.celery_workers + 1):
            args = [
                "celery",
                "worker",
                "--celery-hostname",
                f"w{number}@%h",
                "--concurrency",
                str(self.celery_concurrency),
            ]
            if number > 1:
                # One log server per host is enough (the logs are local files); a second one
                # would fight for the same port.
                args.append("--skip-serve-logs")
            services.insert(-1, (f"celery-worker-{number}", args))
        return services


# --------------------------------------------------------------------------- processes


def _proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, process group, session, start time in clock ticks after boot) of ``pid`` from
    /proc, or None if it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw.rsplit(")", 1)[1].split()  # fields[0] is field 3 of proc(5)
    return fields[0], int(fields[2]), int(fields[3]), int(fields[19])


def _has_proc() -> bool:
    return Path("/proc/self/stat").exists()


def is_alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie."""
    if _has_proc():
        stat = _proc_stat(pid)
        return stat is not None and stat[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_our_leader(home: Path, name: str, pid: int) -> bool:
    """True if ``pid`` is alive and still the session leader this script started as ``name``: same
    start time as recorded in run/<name>.started, so a reused pid is never mistaken for it. (Not the
    command line: Celery workers rename themselves.)"""
    if not is_alive(pid):
        return False
    if _has_proc():
        stat = _proc_stat(pid)
        if stat is None or stat[2] != pid:
            return False
        started = run_dir(home) / f"{name}.started"
        try:
            return int(started.read_text().strip()) == stat[3]
        except (OSError, ValueError):
            return True  # no record of the start time: a session leader with this pid is the best guess
    return True


def session_members(session_ids: set[int]) -> list[int]:
    """Live pids whose session is one of ``session_ids``: every descendant of the processes this
    script started, even those that moved to a process group of their own (task runners do)."""
    if not _has_proc():
        return [sid for sid in session_ids if is_alive(sid)]
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _proc_stat(int(entry))
        if stat and stat[2] in session_ids and stat[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def read_pids(home: Path) -> dict[str, int]:
    pids = {}
    folder = run_dir(home)
    for path in sorted(folder.glob("*.pid")) if folder.exists() else []:
        try:
            pids[path.stem] = int(path.read_text().strip())
        except ValueError:
            path.unlink(missing_ok=True)
    return pids


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_processes(home: Path, timeout: float | None = None, quiet: bool = False) -> list[int]:
    """Stop everything recorded in ``home``'s pid files; returns the pids that survived SIGKILL.

    Each recorded pid started a session of its own, so the session's members are exactly the
    processes it left behind, including orphans whose leader already died (Linux does not reuse a
    pid while a session of that id still has members)."""
    timeout = float(os.environ.get("AIRFLOW_STOP_TIMEOUT") or 30) if timeout is None else timeout
    pids = read_pids(home)
    leaders = {name: pid for name, pid in pids.items() if is_our_leader(home, name, pid)}
    sessions = set(leaders.values()) | {pid for pid in pids.values() if not is_alive(pid)}
    for name, pid in leaders.items():
        if not quiet:
            print(f"stopping {name} (pid {pid})")
        _signal_group(pid, signal.SIGTERM)
    for pid in set(session_members(sessions)) - set(leaders.values()):
        _signal(pid, signal.SIGTERM)  # orphans in groups of their own (task runners)
    deadline = time.monotonic() + timeout
    while session_members(sessions) and time.monotonic() < deadline:
        time.sleep(0.5)
    leftovers = session_members(sessions)
    if leftovers:
        if not quiet:
            print(f"still running after {timeout:.0f}s, killing: {sorted(leftovers)}")
        for pid in leaders.values():
            _signal_group(pid, signal.SIGKILL)
        for pid in leftovers:
            _signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while session_members(sessions) and time.monotonic() < deadline:
            time.sleep(0.2)
        leftovers = session_members(sessions)
    for name in pids:
        (run_dir(home) / f"{name}.pid").unlink(missing_ok=True)
        (run_dir(home) / f"{name}.started").unlink(missing_ok=True)
    (run_dir(home) / "url").unlink(missing_ok=True)
    return leftovers


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host if host not in ("", "::") else "0.0.0.0", port))
        except OSError:
            return True
    return False


def get_json(url: str, timeout: float = 5) -> tuple[int, object]:
    """(HTTP status, parsed JSON body or None); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return 0, None


def run_step(settings: Settings, name: str, args: list[str], timeout: float = 600) -> None:
    """Run ``airflow <args>`` to completion, logging to logs/<name>.log; exit with its log on failure."""
    log_path = settings.home / "logs" / f"{name}.log"
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            result = subprocess.run(
                [airflow_executable(), *args],
                env=settings.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                cwd=PROJECT_ROOT,
            )
            code = result.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    if code != 0:
        raise SystemExit(f"airflow {' '.join(args)} failed ({code}); {log_path}:\n{tail(log_path)}")


# --------------------------------------------------------------------------- commands


def start() -> int:
    settings = Settings(dict(os.environ))
    home = settings.home
    running = {name: pid for name, pid in read_pids(home).items() if is_our_leader(home, name, pid)}
    if running:
        listing = ", ".join(f"{name} (pid {pid})" for name, pid in running.items())
        print(
            f"Airflow is already running from {home}: {listing}.\n"
            f"Stop it first with `make airflow-stop` (scripts/airflow_local.py stop).",
            file=sys.stderr,
        )
        return 1
    stop_processes(home, timeout=5, quiet=True)  # stale pid files, orphans of a crashed start
    if port_in_use(settings.host, settings.port):
        print(f"port {settings.port} is in use: choose another with AIRFLOW_PORT=<port>", file=sys.stderr)
        return 1
    for folder in (home, home / "logs", run_dir(home)):
        folder.mkdir(parents=True, exist_ok=True)
    settings.finish_env()

    database = "SQLite" if settings.sqlite else f"PostgreSQL ({mask_url(settings.db_url)})"
    print(f"AIRFLOW_HOME {home}; metadata DB: {database}; executor: {settings.executor}")
    print("migrating the metadata DB ...", flush=True)
    run_step(settings, "db-migrate", ["db", "migrate"])
    run_step(settings, "pools", ["pools", "set", *POOL])

    started: dict[str, subprocess.Popen] = {}
    try:
        for name, args in settings.services():
            log_path = home / "logs" / f"{name}.log"
            env, cwd = settings.service_env_and_cwd(name)
            with open(log_path, "w", encoding="utf-8") as log:
                process = subprocess.Popen(
                    [airflow_executable(), *args],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=cwd,
                )
            started[name] = process
            (run_dir(home) / f"{name}.pid").write_text(f"{process.pid}\n")
            stat = _proc_stat(process.pid) if _has_proc() else None
            if stat:
                (run_dir(home) / f"{name}.started").write_text(f"{stat[3]}\n")
            print(f"started {name} (pid {process.pid}), log {log_path}")
        (run_dir(home) / "url").write_text(f"{settings.ui_url}\n{settings.base_url}\n")
        health = wait_until_up(settings, started)
    except (SystemExit, KeyboardInterrupt) as error:
        print(f"{error}\nstopping what was started ...", file=sys.stderr)
        stop_processes(home, timeout=15, quiet=True)
        return 1

    password = json.loads(settings.passwords_file.read_text(encoding="utf-8"))[USER]
    unhealthy = [
        part
        for part, status in health.items()
        if isinstance(status, dict) and status.get("status") not in ("healthy", None)
    ]
    if unhealthy:
        print(f"warning: not healthy yet: {', '.join(unhealthy)} (see {home / 'logs'})")
    print(f"\nAirflow UI:  {settings.ui_url}")
    print(f"Versions:    {settings.ui_url}{VERSIONS_PAGE}  (model versions, reports, neighbour search)")
    print(f"Login:       {USER} / {password}")
    print(f"             (the password is kept in {settings.passwords_file})")
    print("Stop it with `make airflow-stop`; `make airflow-status` lists the processes.")
    return 0


def wait_until_up(settings: Settings, started: dict[str, subprocess.Popen]) -> dict:
    """Wait until the api-server answers and has written the login (exit if it does not within
    AIRFLOW_START_TIMEOUT, or if a process dies), then up to 60 s more until the scheduler,
    dag-processor and triggerer report healthy. Returns the last health answer."""

    def check_processes() -> None:
        for name, process in started.items():
            if process.poll() is not None:
                log_path = settings.home / "logs" / f"{name}.log"
                raise SystemExit(f"{name} exited with code {process.returncode}; {log_path}:\n{tail(log_path)}")

    health_url = f"{settings.base_url}/api/v2/monitor/health"
    deadline = time.monotonic() + settings.start_timeout
    while True:
        check_processes()
        status, health = get_json(health_url)
        if (
            status == 200
            and isinstance(health, dict)
            and settings.passwords_file.exists()
            and USER in settings.passwords_file.read_text(encoding="utf-8")
        ):
            break
        if time.monotonic() > deadline:
            log_path = settings.home / "logs" / "api-server.log"
            raise SystemExit(
                f"the api-server did not answer on {settings.base_url} within "
                f"{settings.start_timeout:.0f}s; {log_path}:\n{tail(log_path)}"
            )
        time.sleep(1)
    print(f"api-server answers on {settings.base_url}", flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(health.get(part, {}).get("status") == "healthy" for part in ("scheduler", "dag_processor", "triggerer")):
            break
        time.sleep(1)
        check_processes()
        status, answer = get_json(health_url)
        if status == 200 and isinstance(answer, dict):
            health = answer
    wait_for_celery_workers(settings, started)
    return health


def wait_for_celery_workers(settings: Settings, started: dict[str, subprocess.Popen], timeout: float = 180) -> None:
    """Return once every Celery worker has logged Celery's ``<hostname> ready.`` line, so that a
    run triggered right after ``start`` is shared by all workers (a worker still importing would
    leave every task to the first one). Exit if a worker dies or is not ready within ``timeout``."""
    waiting = [name for name in started if name.startswith("celery-worker-")]
    deadline = time.monotonic() + timeout
    while waiting:
        for name in list(waiting):
            log_path = settings.home / "logs" / f"{name}.log"
            if started[name].poll() is not None:
                raise SystemExit(f"{name} exited with code {started[name].returncode}; {log_path}:\n{tail(log_path)}")
            text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
            if re.search(r"\bw\d+@\S+ ready\.", text):
                print(f"{name} ready", flush=True)
                waiting.remove(name)
        if waiting and time.monotonic() > deadline:
            name = waiting[0]
            raise SystemExit(
                f"{name} not ready within {timeout:.0f}s; {settings.home / 'logs' / (name + '.log')}:\n"
                f"{tail(settings.home / 'logs' / (name + '.log'))}"
            )
        if waiting:
            time.sleep(1)


def stop() -> int:
    home = airflow_home()
    if not read_pids(home):
        print(f"nothing to stop in {home}")
        return 0
    leftovers = stop_processes(home)
    if leftovers:
        print(f"could not stop: {sorted(leftovers)}", file=sys.stderr)
        return 1
    print("stopped")
    return 0


def status() -> int:
    home = airflow_home()
    pids = read_pids(home)
    if not pids:
        print(f"Airflow is not running from {home}")
        return 0
    url_file = run_dir(home) / "url"
    urls = url_file.read_text().split() if url_file.exists() else []
    all_alive = True
    for name, pid in pids.items():
        alive = is_our_leader(home, name, pid)
        all_alive &= alive
        print(
            f"{name:<18} pid {pid:<8} {'running' if alive else 'NOT RUNNING'}   log {home / 'logs' / (name + '.log')}"
        )
    if len(urls) == 2:
        code, health = get_json(f"{urls[1]}/api/v2/monitor/health")
        if code == 200 and isinstance(health, dict):
            parts = ", ".join(
                f"{part} {value.get('status')}" for part, value in health.items() if isinstance(value, dict)
            )
            print(f"UI {urls[0]} answers: {parts}")
        else:
            print(f"UI {urls[0]} does not answer")
    return 0 if all_alive else 1


def main(argv: list[str]) -> int:
    commands = {"start": start, "stop": stop, "status": status}
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    return commands[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
