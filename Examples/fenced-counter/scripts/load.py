#!/usr/bin/env python3
"""Load and checks for scripts/test: concurrent requests to fenced-counter instances.

Standard library only (threads and http.client), so the test needs nothing
beyond python3. Each subcommand prints one JSON object on stdout.

  burst  PORTS COUNTER N CLIENTS READERS   N increments from CLIENTS threads spread
                                           over PORTS, while READERS threads GET
  drain  PORTS COUNTER CLIENTS PID PORT RECORDS
                                           increments on every port; after some
                                           answers, SIGTERM to PID (serving PORT),
                                           then go on until PORT refuses
  check-drain RECORDS LOG                  every request LOG shows accepted got an answer
"""
import http.client
import json
import os
import re
import signal
import sys
import threading
import time

TIMEOUT = 30  # seconds for one request: far above the service's 10 s lock timeout


def one_request(conn, method, path):
    """Sends one request on a kept-alive connection; returns (outcome, body).

    outcome is the HTTP status, 'refused' (nothing listens: the request never
    reached the service), 'dropped' (sent, and the connection closed with no
    answer) or 'timeout' (no answer within TIMEOUT). http.client reopens a connection the server closed, so a service
    that closes kept-alive connections while draining is told apart from one
    that drops a request only by the server's own record (check-drain).
    """
    try:
        conn.request(method, path, headers={"Content-Length": "0"} if method == "POST" else {})
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, body
    except ConnectionRefusedError:
        conn.close()
        return "refused", ""
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine):
        conn.close()
        return "dropped", ""
    except TimeoutError:
        conn.close()
        return "timeout", ""


def tally(outcomes):
    counts = {}
    for outcome in outcomes:
        counts[str(outcome)] = counts.get(str(outcome), 0) + 1
    return counts


def burst(ports, counter, n, clients, readers):
    ports = [int(p) for p in ports.split(",")]
    remaining = [n]
    lock = threading.Lock()
    outcomes, values, unexpected = [], [], []
    gets, get_sequences, get_seconds = [], [], []
    done = threading.Event()

    def take():
        with lock:
            if remaining[0] == 0:
                return False
            remaining[0] -= 1
            return True

    def writer(index):
        conn = http.client.HTTPConnection("127.0.0.1", ports[index % len(ports)], timeout=TIMEOUT)
        while take():
            status, body = one_request(conn, "POST", f"/counters/{counter}/increment")
            with lock:
                outcomes.append(status)
                if status == 200:
                    values.append(int(body))
                elif status not in (409, 503):
                    unexpected.append(f"POST answered {status}: {body.strip()[:200]}")
        conn.close()

    def reader(index):
        conn = http.client.HTTPConnection("127.0.0.1", ports[index % len(ports)], timeout=TIMEOUT)
        seen = []
        while not done.is_set():
            started = time.monotonic()
            status, body = one_request(conn, "GET", f"/counters/{counter}")
            with lock:
                gets.append(status)
                get_seconds.append(time.monotonic() - started)
            if status == 200:
                seen.append(int(body))
            elif status != 503:
                with lock:
                    unexpected.append(f"GET answered {status}: {body.strip()[:200]}")
        with lock:
            get_sequences.append(seen)
        conn.close()

    read_threads = [threading.Thread(target=reader, args=(i,)) for i in range(readers)]
    write_threads = [threading.Thread(target=writer, args=(i,)) for i in range(clients)]
    for thread in read_threads:
        thread.start()
    start = time.monotonic()
    for thread in write_threads:
        thread.start()
    for thread in write_threads:
        thread.join()
    seconds = time.monotonic() - start
    done.set()
    for thread in read_threads:
        thread.join()
    # Each reader's values must never go down: reads under the read lock see
    # whole increments, in the order the write lock granted them.
    monotonic = all(all(a <= b for a, b in zip(s, s[1:])) for s in get_sequences)
    return {
        "seconds": seconds,
        "posts": tally(outcomes),
        "gets": tally(gets),
        "slowest_get": max(get_seconds, default=0),
        "distinct_values": len(set(values)) == len(values),
        "max_value": max(values, default=0),
        "reads_monotonic": monotonic,
        "max_read": max((v for s in get_sequences for v in s), default=0),
        "unexpected": unexpected[:10],
    }


def drain(ports, counter, clients, pid, port, records_path):
    ports = [int(p) for p in ports.split(",")]
    pid, port = int(pid), int(port)
    lock = threading.Lock()
    records = []
    next_id = [0]
    killed_at = [None]
    victim_closed = threading.Event()
    answered = threading.Semaphore(0)

    def worker(index):
        target = ports[index % len(ports)]
        conn = http.client.HTTPConnection("127.0.0.1", target, timeout=TIMEOUT)
        extra = 0
        while True:
            if target == port and victim_closed.is_set() and killed_at[0] is not None:
                break
            # The surviving instance goes on a little past the victim's end, so
            # the lock stays contended for the whole drain.
            if target != port and victim_closed.is_set():
                extra += 1
                if extra > 20:
                    break
            with lock:
                next_id[0] += 1
                rid = next_id[0]
            started = time.monotonic()
            outcome, body = one_request(conn, "POST", f"/counters/{counter}/increment?rid={rid}")
            with lock:
                records.append({"rid": rid, "port": target, "start": started, "end": time.monotonic(),
                                "outcome": outcome, "body": body.strip()[:200]})
            answered.release()
            if target == port and outcome == "refused":
                victim_closed.set()
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    # SIGTERM once the load runs at full speed: every client has requests in flight.
    for _ in range(clients * 4):
        answered.acquire(timeout=TIMEOUT)
    killed_at[0] = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    for thread in threads:
        thread.join()
    with open(records_path, "w") as f:
        json.dump({"killed_at": killed_at[0], "port": port, "records": records}, f)
    victim = [r for r in records if r["port"] == port]
    return {
        "requests": len(records),
        "outcomes": tally(r["outcome"] for r in records),
        "victim_outcomes": tally(r["outcome"] for r in victim),
        "victim_answered_after_sigterm": sum(1 for r in victim if isinstance(r["outcome"], int) and r["end"] > killed_at[0]
                                             and r["start"] < killed_at[0]),
    }


def check_drain(records_path, log_path):
    with open(records_path) as f:
        data = json.load(f)
    by_rid = {r["rid"]: r for r in data["records"]}
    # LogRequestsMiddleware's line for each request the instance took.
    accepted = set()
    with open(log_path, errors="replace") as f:
        for line in f:
            match = re.search(r"hb\.request\.path=/counters/[^ ]*\?rid=(\d+)", line)
            if match:
                accepted.add(int(match.group(1)))
    unanswered = sorted(rid for rid in accepted if not isinstance(by_rid.get(rid, {}).get("outcome"), int))
    victim = [r for r in data["records"] if r["port"] == data["port"]]
    not_taken = [r for r in victim if not isinstance(r["outcome"], int)]
    return {
        "accepted_by_victim": len(accepted),
        "unanswered": unanswered[:20],
        "unanswered_count": len(unanswered),
        # Requests the victim never took: refused at connect, or sent on a
        # kept-alive connection it closed as idle; a client retries those.
        "not_taken_by_victim": tally(r["outcome"] for r in not_taken),
        "status_200_total": sum(1 for r in data["records"] if r["outcome"] == 200),
        "unexpected": [f"{r['outcome']}: {r['body']}" for r in data["records"]
                       if isinstance(r["outcome"], int) and r["outcome"] != 200][:10],
    }


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "burst":
        ports, counter, n, clients, readers = args
        result = burst(ports, counter, int(n), int(clients), int(readers))
    elif command == "drain":
        result = drain(*args[:2], int(args[2]), *args[3:])
    elif command == "check-drain":
        result = check_drain(*args)
    else:
        sys.exit(f"unknown command {command}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv)
