"""The local stack for development and tests: Redis, SeaweedFS (S3) and clamd.

Each service is started only when nothing answers on its address, with its
data, log and pid file under `.run/`, and stopped again by whoever started it:
`make run` on Ctrl-C, the test session at its end. A service that was already
answering (the machine's Redis, a stack another shell started) is used as it
is and never stopped.

    python -m mediahub.devstack up      # start what is missing, then wait
    python -m mediahub.devstack run     # up, migrate, then web + workers + scheduler (supervisord) until Ctrl-C
    python -m mediahub.devstack down    # stop what `.run/*.pid` says this project started
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = BASE_DIR / ".run"
SIGNATURES_DIR = BASE_DIR / "ops" / "clamav"


def _answers(host: str, port: int, probe: bytes = b"", expect: bytes = b"") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            if not probe:
                return True
            sock.sendall(probe)
            sock.settimeout(2)
            return sock.recv(64).startswith(expect)
    except OSError:
        return False


@dataclass
class Service:
    name: str
    host: str
    port: int
    ready: Callable[[], bool]
    command: Callable[[Path], list[str]]
    env: dict[str, str] = field(default_factory=dict)
    start_timeout: float = 60.0

    @property
    def label(self) -> str:
        """Names its folder, log and pid file; the port keeps two stacks on one machine apart."""
        return f"{self.name}-{self.port}"

    @property
    def pid_file(self) -> Path:
        return RUN_DIR / f"{self.label}.pid"

    def start(self) -> int:
        """Start the service in its own process group and wait until it answers."""
        workdir = RUN_DIR / self.label
        workdir.mkdir(parents=True, exist_ok=True)
        log = open(RUN_DIR / f"{self.label}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(
            self.command(workdir),
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            start_new_session=True,
        )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise RuntimeError(f"{self.name} exited with {proc.returncode}; see .run/{self.label}.log")
            if self.ready():
                return proc.pid
            time.sleep(0.3)
        stop_pid(proc.pid)
        self.pid_file.unlink(missing_ok=True)
        raise RuntimeError(f"{self.name} did not answer on {self.host}:{self.port} within {self.start_timeout}s")


def _redis(url: str) -> Service:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    return Service(
        name="redis",
        host=host,
        port=port,
        ready=lambda: _answers(host, port, b"PING\r\n", b"+PONG"),
        command=lambda d: [
            "redis-server",
            "--bind",
            host,
            "--port",
            str(port),
            # an append-only file, as compose's Redis has: queued jobs survive a restart of Redis
            "--appendonly",
            "yes",
            "--dir",
            str(d),
        ],
    )


def _seaweedfs(endpoint: str, bucket: str, access_key: str, secret_key: str) -> Service:
    parsed = urlparse(endpoint)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 8333

    def ready() -> bool:
        if not _answers(host, port):
            return False
        from media import storage  # needs Django settings; only imported once the port answers

        try:
            storage.ensure_bucket()
            return True
        except Exception:
            return False

    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    # weed mini runs five servers, each with an HTTP and a gRPC port. All ten sit right after the S3
    # port, below Linux's ephemeral range (32768+): SeaweedFS's defaults put gRPC at +10000, where an
    # outgoing connection can hold the port just when a test starts a second stack.
    ports = {"s3.port.grpc": port + 1}
    for offset, server in enumerate(("master", "volume", "filer", "admin"), start=1):
        ports[f"{server}.port"] = port + 2 * offset
        ports[f"{server}.port.grpc"] = port + 2 * offset + 1
    return Service(
        name="seaweedfs",
        host=host,
        port=port,
        ready=ready,
        command=lambda d: [
            weed,
            "mini",
            f"-dir={d}",
            f"-ip={host}",
            f"-ip.bind={host}",
            f"-s3.port={port}",
            *(f"-{name}={number}" for name, number in ports.items()),
            f"-bucket={bucket}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
        ],
        # SeaweedFS creates its one S3 identity from these, so presigned URLs are really verified.
        env={"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key},
        start_timeout=90,
    )


CLAMD_CONF = SIGNATURES_DIR / "clamd.conf"
# options of the shared config that name this machine's paths and addresses: set here instead
CLAMD_LOCAL_OPTIONS = {"TCPSocket", "TCPAddr", "LocalSocket", "DatabaseDirectory", "LogFile", "User"}


def _clamd(host: str, port: int) -> Service:
    def command(workdir: Path) -> list[str]:
        shared = [
            line
            for line in CLAMD_CONF.read_text().splitlines()
            if line.strip() and not line.startswith("#") and line.split()[0] not in CLAMD_LOCAL_OPTIONS
        ]
        local = [
            f"TCPSocket {port}",
            f"TCPAddr {host}",
            f"DatabaseDirectory {SIGNATURES_DIR}",
            f"LogFile {workdir / 'clamd.log'}",
        ]
        conf = workdir / "clamd.conf"
        conf.write_text("\n".join([*local, *shared, ""]))
        return [shutil.which("clamd") or "/usr/sbin/clamd", f"--config-file={conf}"]

    return Service(
        name="clamd",
        host=host,
        port=port,
        ready=lambda: _answers(host, port, b"zPING\0", b"PONG"),
        command=command,
    )


def services() -> list[Service]:
    from django.conf import settings

    found = [_redis(settings.REDIS_URL)]
    if settings.AWS_S3_ENDPOINT_URL:
        found.append(
            _seaweedfs(
                settings.AWS_S3_ENDPOINT_URL,
                settings.AWS_STORAGE_BUCKET_NAME,
                settings.AWS_ACCESS_KEY_ID,
                settings.AWS_SECRET_ACCESS_KEY,
            )
        )
    found.append(_clamd(settings.CLAMD_HOST, settings.CLAMD_PORT))
    return found


def up(log: Callable[[str], None] = print) -> list[int]:
    """Start every service that does not answer yet; returns the pids this call started."""
    RUN_DIR.mkdir(exist_ok=True)
    started: list[int] = []
    try:
        for service in services():
            if service.ready():
                log(f"{service.name}: answering on {service.host}:{service.port}, using it")
                continue
            if service.host not in ("127.0.0.1", "localhost", "::1"):
                raise RuntimeError(f"{service.name} at {service.host}:{service.port} does not answer")
            log(f"{service.name}: starting on {service.host}:{service.port} (log: .run/{service.label}.log)")
            started.append(service.start())
    except BaseException:
        stop(started)  # never leave half a stack behind
        raise
    return started


def _gone(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child, so it does not linger as a zombie
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """Stop a process group we started: SIGTERM, then SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _gone(pid):
                return
            time.sleep(0.1)


def stop(pids: list[int]) -> None:
    for pid in pids:
        stop_pid(pid)
    for pid_file in RUN_DIR.glob("*.pid"):
        if pid_file.read_text().strip() in {str(p) for p in pids}:
            pid_file.unlink()


PROGRAMS = ("redis-server", "weed", "clamd", "supervisord")


def _ours(pid: int) -> bool:
    """Whether the pid is still one of the stack's programs (pids are reused after a reboot)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2]
    except OSError:
        return False
    return any(Path(arg.decode()).name in PROGRAMS for arg in argv)  # supervisord runs as `python supervisord`


def down() -> None:
    """Stop whatever the pid files say this project started (after a crash, say)."""
    for pid_file in RUN_DIR.glob("*.pid"):
        text = pid_file.read_text().strip()
        if text.isdigit() and _ours(int(text)):
            stop_pid(int(text))
        pid_file.unlink()


def processes(python: str, port: str) -> dict[str, str]:
    """`make run`'s processes by name: the web server, two workers and the scheduler."""
    from django.conf import settings

    return {
        # as many web processes as production runs (settings.WEB_WORKERS): one saturates a core
        "web": f"{python} -m uvicorn mediahub.asgi:application --host 127.0.0.1 --port {port}"
        + (f" --workers {settings.WEB_WORKERS}" if settings.WEB_WORKERS > 1 else ""),
        # One worker never takes videos, so long videos never starve images (nor the inline retries
        # and maintenance on `default`); the other takes images first, then videos, then `default`.
        # Both are settings.RQ["WORKER_CLASS"] (media.worker.MediahubWorker).
        "images": f"{python} manage.py rqworker images default --with-scheduler",
        "worker": f"{python} manage.py rqworker images videos default --with-scheduler",
        "scheduler": f"{python} manage.py scheduler",
    }


def supervisor_conf(programs: dict[str, str], label: str) -> str:
    """supervisord's configuration for `programs`: each restarted whenever it exits, the rest untouched.

    A process that exits after running STARTSECS (a recycled worker's clean exit, or a crash) is
    restarted at once; one that dies sooner is retried with a growing pause (supervisord's backoff:
    1 s, 2 s, 3 s, ...). Output goes to this terminal; supervisorctl talks to it over `.run/<label>.sock`."""
    sock = RUN_DIR / f"{label}.sock"
    lines = [
        "[supervisord]",
        "nodaemon=true",
        f"logfile={RUN_DIR / f'{label}.log'}",
        f"pidfile={RUN_DIR / f'{label}.supervisord.pid'}",
        "loglevel=warn",
        "[unix_http_server]",
        f"file={sock}",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "[supervisorctl]",
        f"serverurl=unix://{sock}",
    ]
    for name, command in programs.items():
        lines += [
            f"[program:{name}]",
            f"command={command}",
            f"directory={BASE_DIR}",
            "autorestart=true",
            f"startsecs={STARTSECS}",
            "startretries=1000",
            "stopasgroup=true",
            "killasgroup=true",
            "stopwaitsecs=15",
            "redirect_stderr=true",
            "stdout_logfile=/dev/stdout",
            "stdout_logfile_maxbytes=0",
        ]
    return "\n".join([*lines, ""])


STARTSECS = 5


def run() -> int:
    """`make run`: the local services, migrations, then web, workers and scheduler under supervisord until
    Ctrl-C. A process that exits is restarted (see supervisor_conf); the others keep running."""
    from django.conf import settings
    from django.core.management import call_command

    Path(settings.VAR_DIR).mkdir(exist_ok=True)  # the SQLite file of development lives there
    started = up()
    supervisor: subprocess.Popen | None = None
    try:
        call_command("migrate", interactive=False, verbosity=1)
        call_command("ensure_dev_user")
        port = os.environ.get("PORT", "8000")
        label = f"supervisor-{port}"
        conf = RUN_DIR / f"{label}.conf"
        conf.write_text(supervisor_conf(processes(sys.executable, port), label))
        supervisord = shutil.which("supervisord") or str(Path(sys.executable).parent / "supervisord")
        print(f"mediahub on http://127.0.0.1:{port}/  (API docs: /api/docs/, admin: /admin/); Ctrl-C stops all")
        if settings.DEBUG:
            print("development mode: DEBUG is on; set MEDIAHUB_ENV=production for a real deployment")
        supervisor = subprocess.Popen([supervisord, "-c", str(conf)], cwd=BASE_DIR, start_new_session=True)
        (RUN_DIR / f"{label}.pid").write_text(str(supervisor.pid))  # `make stop` finds it after a crash
        return supervisor.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if supervisor is not None:
            stop_pid(supervisor.pid, timeout=30)  # supervisord stops its programs first
            (RUN_DIR / f"supervisor-{os.environ.get('PORT', '8000')}.pid").unlink(missing_ok=True)
        stop(started)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediahub.settings")
    import django

    django.setup()
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    if command == "up":
        # a shell starts background jobs with SIGINT ignored; Ctrl-C and `kill` must stop the stack anyway
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _interrupt)
        started = up()
        print("stack is up; Ctrl-C stops what this command started")
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            stop(started)
        return 0
    if command == "down":
        down()
        return 0
    if command == "run":
        for signum in (signal.SIGINT, signal.SIGTERM):  # `kill` stops the stack as Ctrl-C does
            signal.signal(signum, _interrupt)
        return run()
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
