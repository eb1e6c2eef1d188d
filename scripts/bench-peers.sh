#!/usr/bin/env bash
# Peer benchmark for rwlock-bench: mutex acquire+release cycles of redis-py's
# Lock and python-redis-lock against the same server, from PyPI in a throwaway
# virtual environment (removed on exit). Prints one JSON object per line:
#   {"metric": "peer_redis_py_lock_cycle", "p50_us": ..., "p99_us": ..., "ops_per_s": ...}
# Usage: REDIS_URL=redis://127.0.0.1:6379 scripts/bench-peers.sh [CYCLES]
# Exits non-zero (with a message on stderr) when python3, venv or pip fail.
set -euo pipefail
cycles="${1:-2000}"
url="${REDIS_URL:-redis://127.0.0.1:6379}"
python="${PYTHON:-python3}"
command -v "$python" >/dev/null || { echo "bench-peers: $python not found" >&2; exit 3; }
venv="$(mktemp -d "${TMPDIR:-/tmp}/rwlock-bench-peers.XXXXXX")"
trap 'rm -rf "$venv"' EXIT
"$python" -m venv "$venv" >&2 || { echo "bench-peers: python3 -m venv failed" >&2; exit 3; }
"$venv/bin/pip" install --quiet --disable-pip-version-check redis python-redis-lock >&2 \
    || { echo "bench-peers: pip install redis python-redis-lock failed" >&2; exit 3; }
"$venv/bin/python" - "$url" "$cycles" <<'PY'
import json, os, sys, time
import redis, redis_lock

url, cycles = sys.argv[1], int(sys.argv[2])
r = redis.Redis.from_url(url)
r.ping()
tag = f"rwlock-bench-peer:{os.getpid()}"

def measure(metric, cycle):
    for _ in range(min(200, cycles)):  # warm-up
        cycle()
    samples = []
    start = time.perf_counter_ns()
    for _ in range(cycles):
        t0 = time.perf_counter_ns()
        cycle()
        samples.append(time.perf_counter_ns() - t0)
    total = time.perf_counter_ns() - start
    samples.sort()
    pct = lambda p: samples[min(len(samples) - 1, int(p * len(samples)))] / 1000
    print(json.dumps({"metric": metric, "p50_us": round(pct(0.50), 1), "p99_us": round(pct(0.99), 1),
                      "ops_per_s": round(cycles / (total / 1e9), 1)}), flush=True)

def redis_py_cycle():
    lock = r.lock(tag + ":redis-py", timeout=10)
    assert lock.acquire(blocking=True)
    lock.release()

def python_redis_lock_cycle():
    lock = redis_lock.Lock(r, tag + ":python-redis-lock", expire=10)
    assert lock.acquire(blocking=True)
    lock.release()

measure("peer_redis_py_lock_cycle", redis_py_cycle)
measure("peer_python_redis_lock_cycle", python_redis_lock_cycle)
PY
