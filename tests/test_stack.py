"""`make run`'s stack: it comes up healthy, and Ctrl-C leaves none of its processes behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_run_comes_up_healthy_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server to start a Redis of its own")
    env = {
        **os.environ,
        "PORT": "18765",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "redis://127.0.0.1:16379/0",
        "S3_ENDPOINT_URL": "http://127.0.0.1:28333",
        "S3_BUCKET": "stacktest",
        "CLAMD_PORT": "13310",
        "METRICS_TOKEN": "stack-test",
    }
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediahub.devstack", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body, deadline = None, time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = requests.get(
                    "http://127.0.0.1:18765/api/health/", headers={"Authorization": "Bearer stack-test"}, timeout=5
                )
                body = answer.json()
                if answer.status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        assert proc.poll() is None, proc.stdout.read()
        assert body and body["down"] == [], body
        assert all(c["status"] == "ok" for c in body["components"].values())
        print(f"healthy after {time.monotonic() - started:.1f}s")
        time.sleep(2)  # let the workers and the scheduler finish starting
        tree = descendants(proc.pid)
        names = {Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:90] for pid in tree}
        assert len(tree) >= 7, names  # redis, seaweedfs, clamd, web, two workers, scheduler
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(alive(pid) for pid in tree):
        time.sleep(0.2)
    assert [pid for pid in tree if alive(pid)] == [], output[-3000:]
    with pytest.raises(requests.ConnectionError):
        requests.get("http://127.0.0.1:18765/api/health/", timeout=2)
    assert not list((ROOT / ".run").glob("*.pid")) or all(
        p.read_text().strip() not in {str(pid) for pid in tree} for p in (ROOT / ".run").glob("*.pid")
    )


def test_docker_compose_file_is_valid() -> None:
    if not shutil.which("docker-compose"):
        pytest.skip("Debian's docker-compose is installed by `make test`")
    env = {
        **os.environ,
        "SECRET_KEY": "x",
        "POSTGRES_PASSWORD": "x",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "REDIS_PASSWORD": "x",
        "METRICS_TOKEN": "x",
        "ALERT_WEBHOOK_URL": "https://hooks.slack.com/services/x",
        "GRAFANA_ADMIN_PASSWORD": "x",
    }
    result = subprocess.run(
        ["docker-compose", "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    services = subprocess.run(
        ["docker-compose", "config", "--services"], cwd=ROOT, env=env, capture_output=True, text=True
    ).stdout.split()
    assert {"postgres", "redis", "seaweedfs", "clamav", "web", "image-worker", "video-worker", "scheduler"} <= set(
        services
    )
    assert {"prometheus", "alertmanager", "grafana"} <= set(services)
