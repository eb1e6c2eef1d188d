#!/usr/bin/env bash
# What one lock cycle costs Redis, in instructions: a diagnostic profile, not
# a benchmark. rwlock-bench's server_cpu_* rows time the same cycles with
# INFO commandstats, but on a shared machine those microseconds drift by 2x
# within minutes; instruction counts under callgrind do not drift, so a
# script change can be judged by one run of this before and after it.
#
#   scripts/profile-server-cpu.sh [CYCLES]      (default 300)
#
# Starts its own redis-server under `valgrind --tool=callgrind` on a free
# 127.0.0.1 port (no persistence, files in a temporary directory removed on
# exit), loads lua/*.lua and lua/bench/*.lua, and drives each
# probe CYCLES times through one redis-cli pipe after a warm-up pass.
# Counted: user-space instructions inside processCommand, i.e. everything
# Redis does for the commands the client sent, from lookup to reply buffer.
# Prints one line per probe: NAME, instructions per cycle, and the ratio to
# the mutex cycle. Probes named `+ X` are one script running X and returning
# 1, minus the empty script: what X adds to a script.
# Needs valgrind, redis-server and redis-cli (Debian: valgrind redis-server
# redis-tools); exits 3 with a message when one is missing.
set -euo pipefail

cycles="${1:-300}"
[[ "$cycles" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [CYCLES]" >&2; exit 64; }
for tool in valgrind callgrind_control callgrind_annotate redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "profile-server-cpu: $tool not found (apt-get install valgrind redis-server redis-tools)" >&2; exit 3; }
done
lua_dir="$(cd "$(dirname "$0")/../lua" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/rwlock-profile.XXXXXX")"

port=""
for candidate in $(seq 6450 6499); do
    if ! redis-cli -h 127.0.0.1 -p "$candidate" ping >/dev/null 2>&1; then port="$candidate"; break; fi
done
[[ -n "$port" ]] || { echo "profile-server-cpu: no free port in 6450-6499" >&2; exit 3; }
cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }

valgrind --tool=callgrind --callgrind-out-file="$work/out.%p" --toggle-collect=processCommand \
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    >"$work/valgrind.log" 2>&1 &
server=$!
trap 'cli shutdown nosave >/dev/null 2>&1 || kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done
cli ping >/dev/null || { echo "profile-server-cpu: redis-server did not start:" >&2; tail "$work/valgrind.log" >&2; exit 3; }

load() { cli script load "$1"; }
acquire_write=$(load "$(cat "$lua_dir/acquire_write.lua")")
acquire_read=$(load "$(cat "$lua_dir/acquire_read.lua")")
release=$(load "$(cat "$lua_dir/release.lua")")
mutex_release=$(load "$(cat "$lua_dir/bench/mutex_release.lua")")
fenced_acquire=$(load "$(cat "$lua_dir/bench/fenced_mutex_acquire.lua")")
fenced_release=$(load "$(cat "$lua_dir/bench/fenced_mutex_release.lua")")
lean_acquire=$(load "$(cat "$lua_dir/bench/lean_write_acquire.lua")")
lean_release=$(load "$(cat "$lua_dir/bench/lean_release.lua")")
empty=$(load "return 1")
keys="7 {p}:writer {p}:readers {p}:caps {p}:queue {p}:intents {p}:fence {p}:channel"

# callgrind_control reports every request on stderr; keep that out of the
# table and show it only when a request fails.
control() {
    callgrind_control "$@" >"$work/control.log" 2>&1 || { cat "$work/control.log" >&2; exit 1; }
}

# count NAME FILE: instructions Redis spent on one redis-cli run of FILE,
# after a warm-up run of the same file (scripts cached, keyspace sized).
count() {
    local name="$1" file="$2"
    cli <"$file" >/dev/null
    control -z "$server"
    cli <"$file" >"$work/$name.replies"
    control -d "$name" "$server"
    if grep -q '^(error)\|^ERR\|RWLOCK' "$work/$name.replies"; then
        echo "profile-server-cpu: probe $name got an error reply:" >&2
        grep -m 3 'ERR\|RWLOCK\|error' "$work/$name.replies" >&2
        exit 1
    fi
    local dump
    dump=$(ls -t "$work"/out.* | head -1)
    callgrind_annotate "$dump" 2>/dev/null \
        | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
}

# redis-cli asks the server for its command docs when it connects (millions
# of instructions); a run with no input measures that, and every probe
# subtracts it, or short runs would be dominated by it.
: >"$work/connect.cmds"
connect=$(count connect "$work/connect.cmds")

# probe NAME LINE...: each LINE is one command of a cycle; %i becomes the
# cycle's number (so every cycle has its own token). Prints the mean count.
probe() {
    local name="$1"; shift
    local file="$work/$name.cmds"
    : >"$file"
    for i in $(seq 1 "$cycles"); do
        for line in "$@"; do echo "${line//%i/$i}"; done >>"$file"
    done
    echo $(( ($(count "$name" "$file") - connect) / cycles ))
}

# script_adds NAME BODY: what BODY adds to a one-key script, per call.
script_adds() {
    local sha
    sha=$(load "$2 return 1")
    echo "$(( $(probe "$1" "EVALSHA $sha $keys t%i") - one_script ))"
}

mutex=$(probe mutex_cycle "SET {p}:mutex t%i NX PX 30000" "EVALSHA $mutex_release 1 {p}:mutex t%i")
fenced=$(probe fenced_mutex_cycle "EVALSHA $fenced_acquire 2 {f}:holder {f}:fence t%i 30000" "EVALSHA $fenced_release 2 {f}:holder {f}:channel t%i")
# The least a write cycle could cost under a leaner key layout (see
# lua/bench/lean_write_acquire.lua): a bound on what a layout change can win.
lean=$(probe lean_write_cycle_bound "EVALSHA $lean_acquire 6 {l}:writer {l}:readers {l}:caps {l}:queue {l}:intents {l}:fence t%i 30000 10000 0" "EVALSHA $lean_release 4 {l}:writer {l}:readers {l}:caps {l}:channel t%i")
write=$(probe write_cycle "EVALSHA $acquire_write $keys t%i 30000 10000 0" "EVALSHA $release $keys t%i")
read=$(probe read_cycle "EVALSHA $acquire_read $keys t%i 30000 prefer-writers 0" "EVALSHA $release $keys t%i")
# Concurrent readers take the readers-only path: a reader that stays holds
# the lock for the whole probe (its own keys, so the idle probes stay idle).
rkeys="7 {r}:writer {r}:readers {r}:caps {r}:queue {r}:intents {r}:fence {r}:channel"
cli EVALSHA "$acquire_read" $rkeys stays 3600000 prefer-writers 0 >/dev/null
beside=$(probe read_cycle_beside_a_reader "EVALSHA $acquire_read $rkeys t%i 30000 prefer-writers 0" "EVALSHA $release $rkeys t%i")
two_empty=$(probe two_empty_scripts_7_keys "EVALSHA $empty $keys t%i 30000 10000 0" "EVALSHA $empty $keys t%i")
two_bare=$(probe two_empty_scripts_no_keys "EVALSHA $empty 0" "EVALSHA $empty 0")
one_script=$(probe one_empty_script_7_keys "EVALSHA $empty $keys t%i")

ratio() { awk -v a="$1" -v b="$mutex" 'BEGIN { printf "%.2f", a / b }'; }
row() { printf '%-34s %8d instr/cycle  %5s x mutex\n' "$1" "$2" "$(ratio "$2")"; }
row mutex_cycle "$mutex"
row fenced_mutex_cycle "$fenced"
row write_cycle "$write"
row lean_write_cycle_bound "$lean"
row read_cycle "$read"
row read_cycle_beside_a_reader "$beside"
row two_empty_scripts_7_keys "$two_empty"
row two_empty_scripts_no_keys "$two_bare"
for probe_body in \
    "TIME|redis.call('TIME')" \
    "PTTL|redis.call('PTTL', KEYS[1])" \
    "GET|redis.call('GET', KEYS[6])" \
    "EXISTS of 5 keys|redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])" \
    "PUBLISH|redis.call('PUBLISH', KEYS[7], 'released')" \
    "HSET of 3 fields + PEXPIREAT + DEL|redis.call('HSET', KEYS[1], 'token', ARGV[1], 'fence', '1796202732036951', 'cap', '0') redis.call('PEXPIREAT', KEYS[1], '9999999999999') redis.call('DEL', KEYS[1])" \
    "SET PX + DEL|redis.call('SET', KEYS[1], ARGV[1], 'PX', '30000') redis.call('DEL', KEYS[1])" \
    "tonumber|local n = tonumber('1796202732')" \
    "string.find|local f = string.find('30000', '^[1-9]%d*\$')" \
    "string.format|local s = string.format('%d', 1796202732036951)"; do
    label="${probe_body%%|*}"
    printf '%-34s %8d instr/call\n' "+ $label" "$(script_adds "adds_${label//[^A-Za-z]/_}" "${probe_body#*|}")"
done
