#!/usr/bin/env bash
# Start a production-like stack, run bench/load.py against it, stop the stack.
#
# Production-like: MEDIAHUB_ENV=production (DEBUG off), on plain HTTP locally, the web server with
# production's process count (WEB_WORKERS), both RQ workers and the scheduler, as `make run` starts
# them. A fresh user and a bucket of its own per run, so the census at the end counts this run only.
#
#   bench/load_stack.sh                         # 50 uploads/s for 120 s
#   bench/load_stack.sh --rate 100 --duration 60
#   CODE_DIR=/tmp/main-checkout bench/load_stack.sh --rate 50 --duration 60   # another checkout's code
#
# Environment: CODE_DIR (the checkout to serve; default this one), PORT (8100), DATABASE_URL,
# REDIS_URL (its database is flushed first: give the bench one of its own), and anything else the
# stack reads (WEB_WORKERS, DB_POOL_MAX_SIZE, ...). Its log goes to bench/out/load-stack.log.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
CODE_DIR=${CODE_DIR:-$HERE}
PY=$HERE/.venv/bin/python
STAMP=$(date +%s)
export PORT=${PORT:-8100}
export MEDIAHUB_ENV=production SECRET_KEY=load-bench HTTPS=false METRICS_TOKEN=load-bench
export ALLOWED_HOSTS=127.0.0.1,localhost LOG_LEVEL=WARNING THROTTLE_MEDIA_CREATE=10000000/minute
export S3_BUCKET=${S3_BUCKET:-load-$STAMP} CHANNEL_PREFIX=load-$STAMP
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/15}
mkdir -p "$HERE/bench/out"
LOG=$HERE/bench/out/load-stack.log

redis-cli -u "$REDIS_URL" flushdb >/dev/null
cd "$CODE_DIR"
setsid "$PY" -m mediahub.devstack run >"$LOG" 2>&1 &
STACK=$!
trap 'kill -INT -- -$STACK 2>/dev/null; wait $STACK 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/api/health/" >/dev/null && break
  sleep 1
done
curl -sf "http://127.0.0.1:$PORT/api/health/" >/dev/null || { echo "the stack did not start; see $LOG" >&2; exit 1; }
USER_NAME=load-$STAMP
"$PY" manage.py shell -c "from django.contrib.auth import get_user_model; get_user_model().objects.create_user('$USER_NAME', password='load-bench-pw')"
sleep 3  # the workers connect
echo "stack: $CODE_DIR at $(git -C "$CODE_DIR" rev-parse --short HEAD), port $PORT, bucket $S3_BUCKET"
cpu() { ps -eo pid=,ppid=,times=,args=; }  # CPU seconds of every process, before and after
cpu >"$HERE/bench/out/cpu-before"
T0=$(date +%s.%N)
"$PY" "$HERE/bench/load.py" --base-url "http://127.0.0.1:$PORT" --username "$USER_NAME" --password load-bench-pw "$@"
cpu >"$HERE/bench/out/cpu-after"
T1=$(date +%s.%N)
"$PY" - "$STACK" "$HERE/bench/out/cpu-before" "$HERE/bench/out/cpu-after" "$T0" "$T1" <<'EOF'
"""Where the machine's CPU went during the bench (load.py's run and settling), by program: the budget a rate
has to fit in. ps counts whole seconds; processes that came and went in between are not seen."""
import os
import sys
from collections import Counter


def read(path):
    rows = (line.split(None, 3) for line in open(path) if line.strip())
    return {pid: (ppid, float(cpu), args.strip()) for pid, ppid, cpu, args in rows}


before, after = read(sys.argv[2]), read(sys.argv[3])
wall = float(sys.argv[5]) - float(sys.argv[4])
ours = {sys.argv[1]}
while grown := {pid for pid, (ppid, _, _) in after.items() if ppid in ours} - ours:
    ours |= grown


def label(pid, args):
    if pid in ours and ("spawn_main" in args or "uvicorn" in args):
        return "web (uvicorn processes)"
    if pid in ours and "rqworker" in args:
        return "RQ workers"
    if "bench/load.py" in args:
        return "load generator (bench/load.py)"
    program = os.path.basename(args.split()[0]).rstrip(":")
    return "PostgreSQL" if program.startswith("postgres") else program


used = Counter()
for pid, (_, cpu, args) in after.items():
    used[label(pid, args)] += cpu - before.get(pid, (0, 0.0, ""))[1]
cores = os.cpu_count()
print(f"CPU seconds of every process during the bench ({wall:.0f} s x {cores} cores = {wall * cores:.0f} s available):")
for name, seconds in used.most_common(9):
    if seconds >= 0.5:
        print(f"{seconds:8.1f} s  {name}")
print(f"{sum(used.values()):8.1f} s  in all")
EOF
