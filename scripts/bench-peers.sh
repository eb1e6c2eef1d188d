#!/usr/bin/env bash
# Peer benchmark for rwlock-bench: mutex acquire+release cycles of redis-py's
# Lock and python-redis-lock against the same server, from PyPI in a throwaway
# virtual environment (removed on exit). Prints one JSON object per line:
#   {"metric": "peer_redis_py_lock_cycle", "p50_us": ..., "p99_us": ..., "ops_per_s": ...}
# Usage: REDIS_URL=redis://127.0.0.1:6379 scripts/bench-peers.sh [CYCLES]
#
# With --serve instead of CYCLES it measures on request, so that rwlock-bench
# can run the peers in the same rounds as its own cycles: each line read on
# standard input, "METRIC N", runs N cycles of that peer (after 200 unmeasured
# ones the first time) and answers one line,
#   {"metric": METRIC, "samples_us": [...]};
# a line "ready" is printed once the environment is built; end of input ends it.
# Exits non-zero (with a message on stderr) when python3, venv or pip fail.
set -euo pipefail
cycles="${1:-2000}"
[[ "$cycles" == --serve || "$cycles" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [CYCLES | --serve]" >&2; exit 64; }
url="${REDIS_URL:-redis://127.0.0.1:6379}"
python="${PYTHON:-python3}"
command -v "$python" >/dev/null || { echo "bench-peers: $python not found" >&2; exit 3; }
venv="$(mktemp -d "${TMPDIR:-/tmp}/rwlock-bench-peers.XXXXXX")"
trap 'rm -rf "$venv"' EXIT
"$python" -m venv "$venv" >&2 || { echo "bench-peers: python3 -m venv failed" >&2; exit 3; }
"$venv/bin/pip" install --quiet --disable-pip-version-check redis python-redis-lock >&2 \
    || { echo "bench-peers: pip install redis python-redis-lock failed" >&2; exit 3; }
# The program goes in a file, not on standard input, which --serve reads.
cat >"$venv/peers.py" <<'PY'
import json, os, sys, time
import redis, redis_lock

url, cycles = sys.argv[1], sys.argv[2]
r = redis.Redis.from_url(url)
r.ping()
tag = f"rwlock-bench-peer:{os.getpid()}"

def redis_py_cycle():
    lock = r.lock(tag + ":redis-py", timeout=10)
    assert lock.acquire(blocking=True)
    lock.release()

def python_redis_lock_cycle():
    lock = redis_lock.Lock(r, tag + ":python-redis-lock", expire=10)
    assert lock.acquire(blocking=True)
    lock.release()

peers = {"peer_redis_py_lock_cycle": redis_py_cycle, "peer_python_redis_lock_cycle": python_redis_lock_cycle}
warm = set()

def sample(metric, n):
    """n cycles of one peer, each timed in ns, after a warm-up the first time."""
    cycle = peers[metric]
    if metric not in warm:
        for _ in range(200):
            cycle()
        warm.add(metric)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        cycle()
        samples.append(time.perf_counter_ns() - t0)
    return samples

if cycles == "--serve":
    print("ready", flush=True)
    for request in sys.stdin:
        metric, n = request.split()
        samples = sample(metric, int(n))
        print(json.dumps({"metric": metric, "samples_us": [round(s / 1000, 1) for s in samples]}), flush=True)
    sys.exit(0)

for metric in peers:
    sample(metric, 0)  # the warm-up, outside the timed stretch
    start = time.perf_counter_ns()
    samples = sample(metric, int(cycles))
    total = time.perf_counter_ns() - start
    samples.sort()
    pct = lambda p: samples[min(len(samples) - 1, int(p * len(samples)))] / 1000
    print(json.dumps({"metric": metric, "p50_us": round(pct(0.50), 1), "p99_us": round(pct(0.99), 1),
                      "ops_per_s": round(len(samples) / (total / 1e9), 1)}), flush=True)
PY
"$venv/bin/python" "$venv/peers.py" "$url" "$cycles"
