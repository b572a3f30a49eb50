"""The alerting path, with Debian's Prometheus and Alertmanager: the rule files pass promtool (check, and a unit
test per rule in ops/prometheus/alerts_test.yml), and against a running web server and worker, stopping the
worker sends exactly one firing message to a Slack-style webhook and restarting it exactly one resolved one.
The Grafana dashboard's every expression returns data from that Prometheus."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import django_rq
import pytest
import requests
import yaml
from django.conf import settings
from django.utils import timezone

from media import events, maintenance
from media.models import Media, Status
from tests import image_samples
from tests.api_flow import confirm, uploaded
from tests.helpers import ROOT, child_env, clear_queue, wait_for
from tests.samples import Sample
from tests.test_metrics_admin import make

OPS = ROOT / "ops"
TOKEN = "alerting-test-token"


def needs(*programs: str) -> None:
    missing = [p for p in programs if not shutil.which(p)]
    if missing:
        pytest.skip(f"needs {missing}: Debian's prometheus and prometheus-alertmanager (`make install-test`)")


def run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_rules_pass_promtool_check_and_their_unit_tests() -> None:
    needs("promtool")
    assert "SUCCESS: 9 rules found" in run("promtool", "check", "rules", str(OPS / "prometheus" / "alerts.yml"))
    assert "SUCCESS" in run("promtool", "test", "rules", str(OPS / "prometheus" / "alerts_test.yml"))
    rules = yaml.safe_load((OPS / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]
    tests = yaml.safe_load((OPS / "prometheus" / "alerts_test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert tested == {rule["alert"] for rule in rules}  # a unit test for every rule


def test_shipped_prometheus_and_alertmanager_configs_are_valid(tmp_path: Path) -> None:
    needs("promtool", "amtool")
    prometheus, alertmanager = configs(tmp_path, scrape_port=8000, alertmanager_port=9093, webhook="http://x/")
    assert "SUCCESS" in run("promtool", "check", "config", str(prometheus))
    assert "SUCCESS" in run("amtool", "check-config", str(alertmanager))


# --- end to end -----------------------------------------------------------------------------------------------

SHORT_FOR = "3s"  # every rule's `for`, so the test takes seconds; the rules are otherwise the shipped ones


def configs(tmp_path: Path, *, scrape_port: int, alertmanager_port: int, webhook: str) -> tuple[Path, Path]:
    """The shipped ops/ files, pointed at this test's ports and files, with short intervals."""
    token_file, url_file = tmp_path / "metrics_token", tmp_path / "webhook_url"
    token_file.write_text(TOKEN)
    url_file.write_text(webhook)
    rules = yaml.safe_load((OPS / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = SHORT_FOR
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    prom = yaml.safe_load((OPS / "prometheus" / "prometheus.yml").read_text())
    prom["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{alertmanager_port}"]
    scrape = prom["scrape_configs"][0]
    scrape["scrape_timeout"] = "1s"
    scrape["authorization"]["credentials_file"] = str(token_file)
    scrape["static_configs"][0]["targets"] = [f"127.0.0.1:{scrape_port}"]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prom))
    am = yaml.safe_load((OPS / "alertmanager" / "alertmanager.yml").read_text())
    am["route"].update(group_wait="1s", group_interval="2s")  # repeat_interval stays: no repeats
    am["receivers"][0]["slack_configs"][0]["api_url_file"] = str(url_file)
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(am, allow_unicode=True))
    return tmp_path / "prometheus.yml", tmp_path / "alertmanager.yml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Webhook:
    """A local HTTP receiver standing in for Slack's incoming webhook: it keeps every message posted."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XXXX"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def titles(self, alertname: str) -> list[str]:
        return [
            attachment["title"]
            for message in self.received
            for attachment in message.get("attachments", [])
            if attachment["title"].endswith(f": {alertname}")
        ]


class Processes:
    def __init__(self, logs: Path) -> None:
        self.logs, self.running = logs, {}

    def start(self, name: str, args: list[str], **kwargs: Any) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, **kwargs)
        self.running[name] = proc
        return proc

    def stop(self, name: str) -> None:
        proc = self.running.pop(name)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert answer["status"] == "success", (expr, answer)
    return answer["data"]["result"]


def dashboard_expressions() -> list[str]:
    exprs = []
    for path in sorted((OPS / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            exprs += [target["expr"] for target in panel.get("targets", [])]
    return exprs


def cleanup_figures(user) -> None:
    """What the scheduled cleanup leaves for /metrics: an expired upload, and the orphan survey."""
    stale = make(user, Status.PENDING)
    Media.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(days=30))
    assert "expire" in maintenance.expire_pending().actions
    maintenance.purge_orphans(dry_run=True)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_stopping_a_worker_sends_one_firing_and_one_resolved_message(tmp_path, processes, api, user) -> None:
    needs("prometheus", "prometheus-alertmanager")
    for name in settings.RQ_QUEUES:
        clear_queue(django_rq.get_queue(name))
    photos = []  # processed by the worker below: processing times for the dashboard
    for n in range(2):
        photos.append(uploaded(api, Sample(f"p{n}", f"p{n}.jpg", "image/jpeg", image_samples.jpeg(80 + n, 60), "jpg")))
        assert confirm(api, photos[-1]["id"]).status_code == 202
    cleanup_figures(user)
    events.publish(make(user, Status.PROCESSING))
    hook = Webhook()
    web_port, am_port, prom_port = free_port(), free_port(), free_port()
    prometheus_yml, alertmanager_yml = configs(
        tmp_path, scrape_port=web_port, alertmanager_port=am_port, webhook=hook.url
    )
    env = child_env(METRICS_TOKEN=TOKEN)
    worker = [sys.executable, "manage.py", "rqworker", *settings.RQ_QUEUES]
    processes.start("worker", worker, env=env)
    processes.start(
        "web",
        [sys.executable, "-m", "uvicorn", "mediahub.asgi:application", "--host", "127.0.0.1", "--port", str(web_port)],
        env=env,
    )
    processes.start(
        "alertmanager",
        [
            "prometheus-alertmanager",
            f"--config.file={alertmanager_yml}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",  # one instance: no gossip port to collide with
        ],
    )
    processes.start(
        "prometheus",
        [
            "prometheus",
            f"--config.file={prometheus_yml}",
            f"--storage.tsdb.path={tmp_path / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
    )
    prom = f"http://127.0.0.1:{prom_port}"

    def workers_seen() -> bool:
        try:
            found = query(prom, "mediahub_queue_workers")
        except requests.RequestException:
            return False
        return len(found) == len(settings.RQ_QUEUES) and all(float(r["value"][1]) >= 1 for r in found)

    assert wait_for(workers_seen, 90), processes.log("web") + processes.log("prometheus") + processes.log("worker")
    ready = Media.objects.filter(pk__in=[p["id"] for p in photos], status=Status.READY)
    assert wait_for(lambda: ready.count() == 2, 90), processes.log("worker")
    time.sleep(3)  # a few scrapes more: rate() needs two samples

    empty = [expr for expr in dashboard_expressions() if not query(prom, expr)]
    assert empty == [], "dashboard expressions that return no data"

    assert hook.titles("MediahubNoWorkers") == []
    processes.stop("worker")
    assert wait_for(lambda: hook.titles("MediahubNoWorkers"), 60), processes.log("alertmanager")
    processes.start("worker-again", worker, env=env)
    assert wait_for(lambda: len(hook.titles("MediahubNoWorkers")) >= 2, 90), processes.log("alertmanager")
    time.sleep(5)  # a second message would come within a couple of group intervals (2 s)
    assert hook.titles("MediahubNoWorkers") == ["FIRING: MediahubNoWorkers", "RESOLVED: MediahubNoWorkers"]
    firing = next(m for m in hook.received if m["attachments"][0]["title"] == "FIRING: MediahubNoWorkers")
    text = firing["attachments"][0]["text"]
    assert all(f"no worker serves the {name} queue" in text for name in settings.RQ_QUEUES), text
