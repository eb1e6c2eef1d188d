#!/usr/bin/env bash
# A throwaway local Redis Sentinel deployment for tests: one master, two
# replicas and three sentinels (redis-server --sentinel) on free 127.0.0.1
# ports, no persistence, files under DIR. The master name is "mymaster";
# sentinels use quorum 2, down-after-milliseconds 2000, failover-timeout 3000
# and parallel-syncs 1. The replicas have replica-priority 10 and 20 (the
# first master 30), so the next master is always the healthy node of lowest
# priority. A SIGKILLed master is replaced in about 3.3 s (every sentinel
# names the new master, the other replica follows it).
#
# Why not down-after-milliseconds 1000: right after a failover a sentinel
# reconnects to the new master up to 1 s late (its reconnect period), so with
# 1000 it can mark the new master down for a moment, and it still counts the
# other sentinels' "down" votes about the old master: in 2 of 20 runs that
# was a second, spurious failover (redis/redis#8607 saw the same at 500).
#
# Environment: SENTINEL_DOWN_AFTER_MS and SENTINEL_FAILOVER_TIMEOUT_MS
# override the two timeouts. SENTINEL_FAST=1 (at start) also sets the
# sentinels' INFO period to 1 s and their hello period to 0.5 s (SENTINEL
# DEBUG info-period 1000 publish-period 500; not kept in sentinel.conf, so
# DIR/sentinel.debug records it and restart applies it again): a restarted
# old master then turns replica in about 2 s instead of about 10 s, and every
# sentinel sees it as one in about 3 s instead of about 20 s.
#
#   scripts/redis-sentinel.sh start DIR
#       Starts the three data nodes (DIR/node-PORT/ holds redis.conf,
#       redis.log, redis.pid), waits until both replicas are in sync, starts
#       the sentinels (DIR/sentinel-PORT/ holds sentinel.conf, sentinel.log,
#       sentinel.pid) and waits (up to 60 s) until every sentinel knows the
#       master, both healthy replicas and the two other sentinels. The last
#       line of stdout is the URL to use:
#         redis+sentinel://127.0.0.1:S1,127.0.0.1:S2,127.0.0.1:S3/mymaster
#       Progress goes to stderr. On failure: an error, the logs' tails, the
#       started processes stopped, exit 1. Refuses (exit 1) when DIR already
#       has a running process.
#   scripts/redis-sentinel.sh stop DIR
#       Stops every process under DIR, sentinels first (SIGCONT, SHUTDOWN
#       NOSAVE NOW, then SIGTERM, then SIGKILL), waits until they are gone,
#       exits 0 even if some were already dead. DIR and its files are kept.
#   scripts/redis-sentinel.sh ports DIR
#       One line per process of DIR, "KIND PORT PID", sentinels first: KIND
#       is the process's own ROLE (sentinel, master, replica), or "stopped"
#       (SIGSTOPped), "down" (not running; PID is -) or "unknown" (running
#       but not answering). Then "current-master PORT" if the live sentinels
#       agree on one.
#   scripts/redis-sentinel.sh master DIR
#       Prints the port of the master the live sentinels agree on (exit 1 if
#       none answers or they disagree).
#   scripts/redis-sentinel.sh kill-master DIR
#       SIGKILLs the master the live sentinels agree on, waits until its
#       process is gone, notes the time in DIR/node-PORT/killed-at and prints
#       its port.
#   scripts/redis-sentinel.sh wait-failover DIR OLDPORT [SECONDS]
#       Waits (default 60 s) until a sentinel names a master other than
#       OLDPORT and that node answers ROLE "master", then until every live
#       sentinel names it and every other live data node is its replica with
#       its link up. Prints the timings (from the kill-master of OLDPORT if
#       any, else from the call) to stderr and the new master's port last.
#   scripts/redis-sentinel.sh restart DIR PORT [--no-wait]
#       Starts the data node or sentinel of PORT again from its own config
#       (Sentinel rewrites both kinds as it reconfigures them) and waits
#       until it answers PING. A killed master comes back as an empty master
#       that accepts writes until Sentinel turns it into a replica of the new
#       master (about 10 s, see SENTINEL_FAST) and closes its clients'
#       connections; without --no-wait this then waits (up to 60 s) as
#       wait-replica does. A restarted sentinel (which first names the master
#       of its sentinel.conf, until the others' hello messages update it) is
#       waited for until it names the master the others name, sees it up and
#       knows both replicas and both other sentinels.
#   scripts/redis-sentinel.sh wait-replica DIR PORT [SECONDS]
#       Waits (default 60 s) until the data node of PORT is a replica of the
#       sentinels' master with its link up, and then until every live
#       sentinel lists it as a healthy replica (flags "slave", link ok): the
#       sentinels refresh a replica's INFO only every 10 s (1 s with
#       SENTINEL_FAST). Prints both times.
#
# Usage errors exit 64.
set -euo pipefail

prog="redis-sentinel"
master_name="mymaster"
quorum=2
down_after_ms=${SENTINEL_DOWN_AFTER_MS:-2000}
failover_timeout_ms=${SENTINEL_FAILOVER_TIMEOUT_MS:-3000}
data_nodes=3
sentinels=3
healthy_wait_s=60
ping_wait_s=30
default_wait_s=60
# SENTINEL DEBUG arguments of SENTINEL_FAST=1.
fast_debug="info-period 1000 publish-period 500"
# replica-priority of the data nodes in start order (master first): lower
# wins a failover, so the order of promotion is fixed.
priorities=(30 10 20)

usage() {
  cat >&2 <<EOF
usage: $0 start DIR
       $0 stop DIR
       $0 ports DIR
       $0 master DIR
       $0 kill-master DIR
       $0 wait-failover DIR OLDPORT [SECONDS]
       $0 restart DIR PORT [--no-wait]
       $0 wait-replica DIR PORT [SECONDS]
EOF
  exit 64
}

log() { echo "$prog: $*" >&2; }
die() { log "error: $*"; exit 1; }

# redis-cli against one local process, bounded so a stopped or starved one
# cannot hang the script (CLI_TIMEOUT seconds, 5 by default).
cli() {
  local port=$1
  shift
  timeout "${CLI_TIMEOUT:-5}" redis-cli -h 127.0.0.1 -p "$port" "$@" </dev/null 2>/dev/null | tr -d '\r'
}

abs_dir() { (cd "$1" && pwd -P); }

# node-PORT and sentinel-PORT directories.
node_port() { local base=${1##*/}; echo "${base#*-}"; }
is_sentinel_dir() { case "${1##*/}" in sentinel-*) return 0 ;; *) return 1 ;; esac; }
pid_file() { if is_sentinel_dir "$1"; then echo "$1/sentinel.pid"; else echo "$1/redis.pid"; fi; }
log_file() { if is_sentinel_dir "$1"; then echo "$1/sentinel.log"; else echo "$1/redis.log"; fi; }

# Microseconds since the epoch, and a duration in µs as seconds.
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
secs() { printf '%d.%03d' $(($1 / 1000000)) $((($1 % 1000000) / 1000)); }

# The pid of the process of directory $1 if it is running, else nothing. A
# pid is only trusted when the process is a live (not zombie) redis-server
# whose working directory is the directory (redis chdirs to `dir`), or, only
# where there is no procfs at all, whose title is "redis-server
# 127.0.0.1:PORT" (sentinels add " [sentinel]").
node_pid() {
  local node_dir=$1 pid="" file
  if is_sentinel_dir "$node_dir"; then file=$node_dir/sentinel.pid; else file=$node_dir/redis.pid; fi
  [ -f "$file" ] || return 0
  # Builtins only: this runs in every polling loop.
  read -r pid <"$file" 2>/dev/null || true
  pid=${pid//[!0-9]/}
  [ -n "$pid" ] && is_node_process "$pid" "$node_dir" && echo "$pid"
  return 0
}

# The state letter of pid $1 (R, S, T, Z...), or nothing.
proc_state() {
  local stat=""
  read -r stat <"/proc/$1/stat" 2>/dev/null || true
  stat=${stat##*) }
  echo "${stat%% *}"
}

is_alive() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 1
  [ "$(proc_state "$pid")" != Z ]
}

# True when pid $1 is stopped (SIGSTOP, SIGTSTP, ptrace).
is_stopped() {
  case "$(proc_state "$1")" in T | t) return 0 ;; *) return 1 ;; esac
}

is_node_process() {
  local pid=$1 node_dir=$2 title port
  is_alive "$pid" || return 1
  # With procfs, the cwd of our own processes (same user) is always
  # readable: an unreadable one is another user's process, or one exiting.
  if [ -d /proc/self ]; then
    [ "/proc/$pid/cwd" -ef "$node_dir" ]
    return
  fi
  port=$(node_port "$node_dir")
  title=$(ps -p "$pid" -o args= 2>/dev/null || true)
  case "$title" in
    *"redis-server 127.0.0.1:$port" | *"redis-server 127.0.0.1:$port "*) return 0 ;;
    *) return 1 ;;
  esac
}

# True while pid $1 may still be the process of directory $2: alive and not
# provably another process (whose readable working directory is elsewhere,
# i.e. the pid was reused). For waiting only; signals need is_node_process.
may_be_node() {
  local pid=$1 node_dir=$2 cwd
  is_alive "$pid" || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
  [ -z "$cwd" ] || [ "$cwd" = "$node_dir" ]
}

# The directories of DIR $1: sentinels first, then data nodes.
all_dirs() {
  local d
  for d in "$1"/sentinel-* "$1"/node-*; do
    [ -d "$d" ] && echo "$d"
  done
  return 0
}

# Every running process of DIR $1, one "PID DIRECTORY" per line, sentinels
# first: those of the pid files, and any redis-server whose working
# directory is a directory of DIR (one started again without our pid file,
# or still starting).
running_nodes() {
  local dir=$1 node_dir pid cwd
  declare -A seen=()
  while read -r node_dir; do
    pid=$(node_pid "$node_dir")
    if [ -n "$pid" ]; then
      seen[$pid]=1
      echo "$pid $node_dir"
    fi
  done < <(all_dirs "$dir")
  if command -v pgrep >/dev/null; then
    for pid in $(pgrep -x 'redis-server|redis-sentinel' 2>/dev/null || true); do
      [ -z "${seen[$pid]:-}" ] || continue
      cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
      case "$cwd" in
        "$dir"/sentinel-* | "$dir"/node-*) is_alive "$pid" && echo "$pid $cwd" ;;
      esac
    done
  fi
  return 0
}

# running_nodes_of DIR NODE_DIR...: the running_nodes lines of DIR whose
# directory is one of the given ones.
running_nodes_of() {
  local dir=$1 want pid node_dir
  shift
  declare -A wanted=()
  for want in "$@"; do wanted["$want"]=1; done
  while read -r pid node_dir; do
    if [ -n "$pid" ] && [ -n "${wanted["$node_dir"]:-}" ]; then
      echo "$pid $node_dir"
    fi
  done < <(running_nodes "$dir")
  return 0
}

# Stops the processes given as "PID DIRECTORY" lines on stdin and waits
# until they are gone: SIGCONT (a stopped process answers nothing and defers
# SIGTERM), SHUTDOWN NOSAVE NOW, then SIGTERM, then SIGKILL. Each signal goes
# only to a pid that is still the directory's own process (checked right
# before it): one that exited meanwhile may have had its pid reused.
stop_nodes() {
  local pid node_dir pids=() dirs=() ports=() pairs=() i
  while read -r pid node_dir; do
    [ -n "$pid" ] || continue
    pids+=("$pid")
    dirs+=("$node_dir")
    ports+=("$(node_port "$node_dir")")
    pairs+=("$pid" "$node_dir")
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  log "stopping ${#pids[@]} process(es): ports ${ports[*]}"
  for i in "${!pids[@]}"; do
    if is_node_process "${pids[$i]}" "${dirs[$i]}"; then kill -CONT "${pids[$i]}" 2>/dev/null || true; fi
  done
  for i in "${!pids[@]}"; do
    (
      # NOW: a master does not wait (shutdown-timeout) for lagging replicas.
      out=$(CLI_TIMEOUT=3 cli "${ports[$i]}" shutdown nosave now || true)
      case "$out" in
        *ERR*) CLI_TIMEOUT=3 cli "${ports[$i]}" shutdown nosave >/dev/null || true ;;
      esac
    ) &
  done
  wait
  wait_gone 5 "${pairs[@]}" && return 0
  for i in "${!pids[@]}"; do
    is_node_process "${pids[$i]}" "${dirs[$i]}" || continue
    log "pid ${pids[$i]} still running after SHUTDOWN: SIGTERM"
    kill -CONT "${pids[$i]}" 2>/dev/null || true
    kill -TERM "${pids[$i]}" 2>/dev/null || true
  done
  wait_gone 5 "${pairs[@]}" && return 0
  for i in "${!pids[@]}"; do
    is_node_process "${pids[$i]}" "${dirs[$i]}" || continue
    log "pid ${pids[$i]} still running after SIGTERM: SIGKILL"
    kill -KILL "${pids[$i]}" 2>/dev/null || true
  done
  wait_gone 5 "${pairs[@]}" && return 0
  log "error: still running after SIGKILL: $(for i in "${!pids[@]}"; do may_be_node "${pids[$i]}" "${dirs[$i]}" && printf '%s ' "${pids[$i]}"; done)"
  return 1
}

# wait_gone SECONDS PID DIRECTORY [PID DIRECTORY]...: true once none of the
# pids may still be its directory's process (may_be_node).
wait_gone() {
  local seconds=$1 deadline any i
  shift
  local -a pairs=("$@")
  deadline=$((SECONDS + seconds))
  while :; do
    any=0
    for ((i = 0; i + 1 < ${#pairs[@]}; i += 2)); do
      if may_be_node "${pairs[$i]}" "${pairs[$((i + 1))]}"; then any=1; break; fi
    done
    [ $any -eq 0 ] && return 0
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}

# COUNT distinct ports free on 127.0.0.1, outside the kernel's ephemeral
# range (where outgoing connections could take them before the process
# binds). Arguments: COUNT, then ports to exclude (directories of DIR).
pick_ports() {
  python3 - "$@" <<'PY'
import random, socket, sys

count = int(sys.argv[1])
exclude = {int(p) for p in sys.argv[2:]}
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = (int(x) for x in f.read().split())
except (OSError, ValueError):
    lo, hi = 32768, 60999
candidates = [p for p in range(10000, 65536) if not lo <= p <= hi]
if len(candidates) < 100:
    candidates = list(range(20000, 40001))
random.shuffle(candidates)

def bindable(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()

chosen = []
for p in candidates:
    if p not in exclude and bindable(p):
        chosen.append(p)
        if len(chosen) == count:
            break
if len(chosen) < count:
    sys.exit("no free ports")
print(" ".join(map(str, chosen)))
PY
}

# A value for redis.conf: double-quoted, backslashes and quotes escaped.
conf_quote() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# write_node_conf DIRECTORY PORT PRIORITY [MASTER_PORT]: a data node, the
# replica of MASTER_PORT when given. Sentinel rewrites this file (CONFIG
# REWRITE) whenever it reconfigures the node, so a restart resumes the role
# Sentinel gave it last.
write_node_conf() {
  local node_dir=$1 port=$2 priority=$3 master_port=${4:-}
  cat >"$node_dir/redis.conf" <<EOF
# Data node of a throwaway test Sentinel deployment (scripts/redis-sentinel.sh).
port $port
bind 127.0.0.1
daemonize yes
dir $(conf_quote "$node_dir")
pidfile $(conf_quote "$node_dir/redis.pid")
logfile $(conf_quote "$node_dir/redis.log")
loglevel notice
save ""
appendonly no
# Lower wins a failover; fixed per node so the next master is predictable.
replica-priority $priority
# A replica's first sync starts at once (the default waits 5 s for more
# replicas to share a diskless transfer), straight over the socket...
repl-diskless-sync yes
repl-diskless-sync-delay 0
# ...and is loaded from the socket: no dump.rdb on disk that a restarted node
# would load.
repl-diskless-load swapdb
# Replicas' offsets advance on an idle master too.
repl-ping-replica-period 1
EOF
  if [ -n "$master_port" ]; then
    echo "replicaof 127.0.0.1 $master_port" >>"$node_dir/redis.conf"
  fi
}

# write_sentinel_conf DIRECTORY PORT MASTER_PORT. The sentinel rewrites it
# (known replicas and sentinels, epochs, the current master), so a restarted
# sentinel resumes with what it knew.
write_sentinel_conf() {
  local node_dir=$1 port=$2 master_port=$3
  cat >"$node_dir/sentinel.conf" <<EOF
# Sentinel of a throwaway test deployment (scripts/redis-sentinel.sh).
port $port
bind 127.0.0.1
daemonize yes
dir $(conf_quote "$node_dir")
pidfile $(conf_quote "$node_dir/sentinel.pid")
logfile $(conf_quote "$node_dir/sentinel.log")
loglevel notice
sentinel monitor $master_name 127.0.0.1 $master_port $quorum
sentinel down-after-milliseconds $master_name $down_after_ms
sentinel failover-timeout $master_name $failover_timeout_ms
sentinel parallel-syncs $master_name 1
EOF
}

# launch_node DIRECTORY: starts (daemonizes) the process from its config,
# remembering where its log ended so wait_ping can tell that run's death.
declare -A log_offset=()
launch_node() {
  local node_dir=$1 logf
  logf=$(log_file "$node_dir")
  log_offset[$node_dir]=$(wc -c 2>/dev/null <"$logf" || echo 0)
  if is_sentinel_dir "$node_dir"; then
    redis-server "$node_dir/sentinel.conf" --sentinel >>"$logf" 2>&1 </dev/null
  else
    redis-server "$node_dir/redis.conf" >>"$logf" 2>&1 </dev/null
  fi
}

# wait_ping DIRECTORY SECONDS: true once the process (per its pid file)
# runs and its port answers PONG; false at once when the log shows that this
# run aborted (e.g. its port was taken meanwhile), or after SECONDS.
wait_ping() {
  local node_dir=$1 seconds=$2 port deadline logf
  port=$(node_port "$node_dir")
  logf=$(log_file "$node_dir")
  deadline=$((SECONDS + seconds))
  while :; do
    if [ -n "$(node_pid "$node_dir")" ]; then
      [ "$(cli "$port" ping || true)" != PONG ] || return 0
    elif tail -c +"$((${log_offset[$node_dir]:-0} + 1))" "$logf" 2>/dev/null \
        | grep -q -E 'aborting|ready to exit|FATAL|Fatal error'; then
      return 1
    fi
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}

tail_logs() {
  local node_dir logf
  for node_dir in "$@"; do
    logf=$(log_file "$node_dir")
    echo "----- $logf (tail) -----" >&2
    tail -n 25 "$logf" >&2 2>/dev/null || echo "(no log)" >&2
  done
}

# ---------------------------------------------------------- state queries

# The value of key $1 in redis-cli's flat "key\nvalue\n..." output on stdin.
kv() { awk -v k="$1" 'NR % 2 == 1 { key = $0; next } key == k { print; found = 1; exit } END { exit !found }'; }

# Ports of the live (running, not stopped) sentinels of DIR $1.
live_sentinels() {
  local d pid
  for d in "$1"/sentinel-*; do
    [ -d "$d" ] || continue
    pid=$(node_pid "$d")
    [ -n "$pid" ] && ! is_stopped "$pid" && node_port "$d"
  done
  return 0
}

# The master port sentinel $1 names, or nothing.
sentinel_master_of() {
  local out
  out=$(CLI_TIMEOUT=2 cli "$1" sentinel get-master-addr-by-name "$master_name") || return 0
  sed -n 2p <<<"$out" | grep -E '^[0-9]+$' || true
}

# The master port every live sentinel of DIR $1 that answers names. If none
# answers or they disagree: "!REASON" and false (callers use ${m#!}).
agreed_master() {
  local dir=$1 s m first="" views=""
  for s in $(live_sentinels "$dir"); do
    m=$(sentinel_master_of "$s")
    [ -n "$m" ] || continue
    views+=" $s:$m"
    if [ -z "$first" ]; then first=$m; elif [ "$m" != "$first" ]; then first="!"; fi
  done
  if [ -z "$first" ]; then echo "!no live sentinel answers"; return 1; fi
  if [ "$first" = "!" ]; then echo "!sentinels disagree (sentinel:master):$views"; return 1; fi
  echo "$first"
}

# ROLE of port $1 as master, replica, sentinel, or nothing.
role_of() {
  local r
  r=$(CLI_TIMEOUT=2 cli "$1" role | head -n 1) || true
  case "$r" in
    master | sentinel) echo "$r" ;;
    slave) echo replica ;;
  esac
  return 0
}

# replica_ok PORT MASTER_PORT: the node is a replica of MASTER_PORT with its
# link up.
replica_ok() {
  local info
  info=$(CLI_TIMEOUT=2 cli "$1" info replication) || return 1
  grep -qx role:slave <<<"$info" && grep -qx "master_port:$2" <<<"$info" \
    && grep -qx master_link_status:up <<<"$info"
}

# sentinel_problem SENTINEL_PORT MASTER_PORT [STRICT]: empty when the
# sentinel names MASTER_PORT, sees it as a healthy master and knows
# $((data_nodes - 1)) replicas and $((sentinels - 1)) other sentinels; with
# STRICT, also every replica and sentinel healthy (no s_down/disconnected)
# and the quorum reachable. Else prints the first problem.
sentinel_problem() {
  local s=$1 want=$2 strict=${3:-} out flags n m bad
  m=$(sentinel_master_of "$s")
  [ "$m" = "$want" ] || { echo "sentinel $s names master ${m:-none} (want $want)"; return 0; }
  out=$(CLI_TIMEOUT=2 cli "$s" sentinel master "$master_name") || { echo "sentinel $s does not answer SENTINEL MASTER"; return 0; }
  flags=$(kv flags <<<"$out" || true)
  [ "$flags" = master ] || { echo "sentinel $s: master flags $flags"; return 0; }
  n=$(kv num-slaves <<<"$out" || true)
  [ "$n" = $((data_nodes - 1)) ] || { echo "sentinel $s: num-slaves ${n:-?} (want $((data_nodes - 1)))"; return 0; }
  n=$(kv num-other-sentinels <<<"$out" || true)
  [ "$n" = $((sentinels - 1)) ] || { echo "sentinel $s: num-other-sentinels ${n:-?} (want $((sentinels - 1)))"; return 0; }
  [ -n "$strict" ] || return 0
  out=$(CLI_TIMEOUT=2 cli "$s" sentinel replicas "$master_name") || { echo "sentinel $s does not answer SENTINEL REPLICAS"; return 0; }
  bad=$(replica_table <<<"$out" | awk -v m="$want" '$3 != "slave" || $4 != "ok" || $5 != m { printf " %s(%s,link %s,of %s)", $2, $3, $4, $5 }')
  [ -z "$bad" ] || { echo "sentinel $s sees replicas:$bad"; return 0; }
  out=$(CLI_TIMEOUT=2 cli "$s" sentinel sentinels "$master_name") || { echo "sentinel $s does not answer SENTINEL SENTINELS"; return 0; }
  bad=$(replica_table <<<"$out" | awk '$3 != "sentinel" { printf " %s(%s)", $2, $3 }')
  [ -z "$bad" ] || { echo "sentinel $s sees sentinels:$bad"; return 0; }
  out=$(CLI_TIMEOUT=2 cli "$s" sentinel ckquorum "$master_name" | head -n 1) || true
  case "$out" in OK*) ;; *) echo "sentinel $s: ckquorum: ${out:-no reply}"; return 0 ;; esac
  return 0
}

# The entries of a SENTINEL REPLICAS / SENTINELS reply (flattened by
# redis-cli into key/value lines, each entry starting with "name") as
# "IP PORT FLAGS MASTER-LINK-STATUS MASTER-PORT" lines.
replica_table() {
  awk 'NR % 2 == 1 { key = $0; next }
       key == "name" { n++ }
       { v[n, key] = $0 }
       END { for (i = 1; i <= n; i++) print v[i, "ip"], v[i, "port"], v[i, "flags"], (v[i, "master-link-status"] == "" ? "-" : v[i, "master-link-status"]), (v[i, "master-port"] == "" ? "-" : v[i, "master-port"]) }'
}

# apply_debug DIR SENTINEL_PORT: the SENTINEL DEBUG settings recorded in
# DIR/sentinel.debug (by start with SENTINEL_FAST=1), if any, for that
# sentinel.
apply_debug() {
  local args out
  [ -s "$1/sentinel.debug" ] || return 0
  read -r -a args <"$1/sentinel.debug"
  out=$(cli "$2" sentinel debug "${args[@]}")
  [ "$out" = OK ] || die "sentinel $2: SENTINEL DEBUG ${args[*]}: ${out:-no reply}"
}

# The data node directory of port $1 in DIR $2, or die.
data_dir_of() {
  [ -f "$2/node-$1/redis.conf" ] || die "no data node of port $1 in $2"
  echo "$2/node-$1"
}

# ---------------------------------------------------------------- commands

start_ok=0
start_dir=""
started_dirs=()
on_start_exit() {
  local rc=$?
  [ $start_ok -eq 0 ] || return 0
  # A second Ctrl-C must not cut the cleanup short and leave nodes running.
  trap '' INT TERM
  if [ ${#started_dirs[@]} -gt 0 ]; then
    tail_logs "${started_dirs[@]}"
    # By working directory as well as pid file: a process still starting,
    # or interrupted before writing its pid file, is stopped too.
    running_nodes_of "$start_dir" "${started_dirs[@]}" | stop_nodes || true
  fi
  exit $((rc == 0 ? 1 : rc))
}

cmd_start() {
  local dir=$1 running node_dir port t0=$SECONDS i problem s master
  local -a ports existing=() data_ports sentinel_ports sentinel_dirs=()
  mkdir -p "$dir" || die "cannot create $dir"
  dir=$(abs_dir "$dir")
  running=$(running_nodes "$dir")
  if [ -n "$running" ]; then
    die "$dir already has running redis-server process(es) (pid dir):
$running
stop them first: $0 stop $dir"
  fi
  while read -r node_dir; do existing+=("$(node_port "$node_dir")"); done < <(all_dirs "$dir")
  read -r -a ports <<<"$(pick_ports $((data_nodes + sentinels)) "${existing[@]}")" \
    || die "could not find $((data_nodes + sentinels)) free ports on 127.0.0.1"
  [ ${#ports[@]} -eq $((data_nodes + sentinels)) ] || die "could not find $((data_nodes + sentinels)) free ports on 127.0.0.1"
  data_ports=("${ports[@]:0:data_nodes}")
  sentinel_ports=("${ports[@]:data_nodes}")
  master=${data_ports[0]}

  start_dir=$dir
  trap on_start_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  log "starting master $master and replicas ${data_ports[*]:1} in $dir"
  for i in "${!data_ports[@]}"; do
    port=${data_ports[$i]}
    node_dir="$dir/node-$port"
    mkdir -p "$node_dir"
    if [ "$i" -eq 0 ]; then
      write_node_conf "$node_dir" "$port" "${priorities[$i]}"
    else
      write_node_conf "$node_dir" "$port" "${priorities[$i]}" "$master"
    fi
    started_dirs+=("$node_dir")
    launch_node "$node_dir" || die "redis-server failed to start on port $port"
  done
  for node_dir in "${started_dirs[@]}"; do
    wait_ping "$node_dir" "$ping_wait_s" \
      || die "node $(node_port "$node_dir") did not start (no PONG within ${ping_wait_s}s, or it aborted: see its log)"
  done

  # Replicas in sync before the sentinels start: a sentinel learns the
  # replicas from the master's INFO, which it asks at once on connecting and
  # then only every 10 s.
  local deadline=$((SECONDS + healthy_wait_s))
  for port in "${data_ports[@]:1}"; do
    until replica_ok "$port" "$master"; do
      [ $SECONDS -lt $deadline ] || die "replica $port not in sync with $master after ${healthy_wait_s}s"
      sleep 0.05
    done
  done
  until [ "$(cli "$master" info replication | grep -c '^slave[0-9]*:.*state=online')" -eq $((data_nodes - 1)) ]; do
    [ $SECONDS -lt $deadline ] || die "master $master does not list $((data_nodes - 1)) online replicas after ${healthy_wait_s}s"
    sleep 0.05
  done

  log "starting sentinels ${sentinel_ports[*]}"
  for port in "${sentinel_ports[@]}"; do
    node_dir="$dir/sentinel-$port"
    mkdir -p "$node_dir"
    write_sentinel_conf "$node_dir" "$port" "$master"
    started_dirs+=("$node_dir")
    sentinel_dirs+=("$node_dir")
    launch_node "$node_dir" || die "redis-server --sentinel failed to start on port $port"
  done
  for node_dir in "${sentinel_dirs[@]}"; do
    wait_ping "$node_dir" "$ping_wait_s" \
      || die "sentinel $(node_port "$node_dir") did not start (no PONG within ${ping_wait_s}s, or it aborted: see its log)"
  done
  if [ "${SENTINEL_FAST:-}" = 1 ]; then
    echo "$fast_debug" >"$dir/sentinel.debug"
    log "SENTINEL_FAST: SENTINEL DEBUG $fast_debug"
  else
    rm -f "$dir/sentinel.debug"
  fi
  for port in "${sentinel_ports[@]}"; do apply_debug "$dir" "$port"; done

  # Sentinels find each other through hello messages on the master's
  # __sentinel__:hello channel, published every 2 s.
  log "waiting (up to ${healthy_wait_s}s) for every sentinel to know the master, both replicas and each other"
  while :; do
    problem=""
    for s in "${sentinel_ports[@]}"; do
      problem=$(sentinel_problem "$s" "$master" strict)
      [ -z "$problem" ] || break
    done
    if [ -z "$problem" ]; then
      for port in "${data_ports[@]:1}"; do
        replica_ok "$port" "$master" || { problem="replica $port lost its link to $master"; break; }
      done
    fi
    [ -n "$problem" ] || break
    [ $SECONDS -lt $deadline ] || die "sentinels not ready after ${healthy_wait_s}s: $problem"
    sleep 0.1
  done
  local url=""
  for s in "${sentinel_ports[@]}"; do url+="${url:+,}127.0.0.1:$s"; done
  start_ok=1
  trap - EXIT INT TERM
  log "ready after $((SECONDS - t0))s: master $master, replicas ${data_ports[*]:1}, sentinels ${sentinel_ports[*]}"
  echo "redis+sentinel://$url/$master_name"
}

cmd_stop() {
  local dir=$1 running
  if [ ! -d "$dir" ]; then
    log "$dir does not exist: nothing to stop"
    return 0
  fi
  dir=$(abs_dir "$dir")
  running=$(running_nodes "$dir")
  if [ -z "$running" ]; then
    log "no running process in $dir"
    return 0
  fi
  # Sentinels first: none starts a failover while the data nodes go.
  { grep ' .*/sentinel-[0-9]*$' <<<"$running" || true; } | stop_nodes || true
  { grep -v ' .*/sentinel-[0-9]*$' <<<"$running" || true; } | stop_nodes
}

cmd_ports() {
  local dir=$1 node_dir pid port kind m
  [ -d "$dir" ] || die "$dir does not exist"
  dir=$(abs_dir "$dir")
  while read -r node_dir; do
    port=$(node_port "$node_dir")
    pid=$(node_pid "$node_dir")
    if [ -z "$pid" ]; then
      kind=down pid=-
    elif is_stopped "$pid"; then
      kind=stopped
    else
      kind=$(role_of "$port")
      kind=${kind:-unknown}
    fi
    echo "$kind $port $pid"
  done < <(all_dirs "$dir")
  if m=$(agreed_master "$dir"); then
    echo "current-master $m"
  else
    log "${m#!}"
  fi
}

cmd_master() {
  local dir=$1
  [ -d "$dir" ] || die "$dir does not exist"
  dir=$(abs_dir "$dir")
  local m
  m=$(agreed_master "$dir") || die "${m#!}"
  echo "$m"
}

cmd_kill_master() {
  local dir=$1 master node_dir pid
  [ -d "$dir" ] || die "$dir does not exist"
  dir=$(abs_dir "$dir")
  master=$(agreed_master "$dir") || die "${master#!}"
  node_dir=$(data_dir_of "$master" "$dir")
  pid=$(node_pid "$node_dir")
  [ -n "$pid" ] || die "master $master (per the sentinels) is not running"
  kill -KILL "$pid"
  now_us >"$node_dir/killed-at"
  wait_gone 10 "$pid" "$node_dir" || die "master $master (pid $pid) still running 10s after SIGKILL"
  log "killed master $master (pid $pid)"
  echo "$master"
}

cmd_wait_failover() {
  local dir=$1 old=$2 seconds=${3:-$default_wait_s} t0 s m new="" promoted_us="" agreed_us="" d p pending deadline
  [ -d "$dir" ] || die "$dir does not exist"
  dir=$(abs_dir "$dir")
  t0=$(now_us)
  if [ -f "$dir/node-$old/killed-at" ]; then t0=$(<"$dir/node-$old/killed-at"); fi
  deadline=$((SECONDS + seconds))
  while :; do
    if [ -z "$new" ]; then
      for s in $(live_sentinels "$dir"); do
        m=$(sentinel_master_of "$s")
        if [ -n "$m" ] && [ "$m" != "$old" ] && [ "$(role_of "$m")" = master ]; then
          new=$m promoted_us=$(($(now_us) - t0))
          log "sentinel $s names $new, which answers ROLE master: $(secs "$promoted_us")s"
          break
        fi
      done
    fi
    if [ -n "$new" ]; then
      pending=""
      if [ -z "$agreed_us" ]; then
        if m=$(agreed_master "$dir") && [ "$m" = "$new" ]; then
          agreed_us=$(($(now_us) - t0))
          log "every live sentinel names $new: $(secs "$agreed_us")s"
        else
          pending="sentinels"
        fi
      fi
      if [ -z "$pending" ]; then
        for d in "$dir"/node-*; do
          p=$(node_port "$d")
          if [ "$p" = "$new" ] || [ -z "$(node_pid "$d")" ]; then continue; fi
          if ! replica_ok "$p" "$new"; then pending="replica $p"; break; fi
        done
      fi
      if [ -z "$pending" ]; then
        log "failover from $old to $new done: $(secs $(($(now_us) - t0)))s (promoted $(secs "$promoted_us")s, sentinels agreed $(secs "$agreed_us")s, replicas attached)"
        echo "$new"
        return 0
      fi
    fi
    [ $SECONDS -lt $deadline ] || die "no complete failover from $old within ${seconds}s (new master: ${new:-none}; waiting for: ${pending:-a promotion})"
    sleep 0.05
  done
}

# wait_replica DIR PORT SECONDS [T0_US]: see wait-replica; times from T0_US
# (now by default).
wait_replica() {
  local dir=$1 port=$2 seconds=$3 t0=${4:-} deadline m s problem="" bad replica_us=""
  [ -n "$t0" ] || t0=$(now_us)
  deadline=$((SECONDS + seconds))
  while :; do
    if m=$(agreed_master "$dir"); then
      if [ "$m" = "$port" ]; then
        log "warning: the sentinels name $port itself as the master (restarted before any failover?): its data set is empty"
        return 0
      fi
      if replica_ok "$port" "$m"; then
        if [ -z "$replica_us" ]; then
          replica_us=$(($(now_us) - t0))
          log "$port is a replica of $m with its link up: $(secs "$replica_us")s"
        fi
        # Sentinels refresh a replica's INFO every 10 s: until then they may
        # still list it with its old role and link.
        problem=""
        for s in $(live_sentinels "$dir"); do
          bad=$(CLI_TIMEOUT=2 cli "$s" sentinel replicas "$master_name" | replica_table \
            | awk -v p="$port" -v m="$m" '$2 == p { found = 1; if ($3 != "slave" || $4 != "ok" || $5 != m) print $3 "/link " $4 "/of " $5 } END { if (!found) print "not listed" }') || bad="no reply"
          [ -z "$bad" ] || { problem="sentinel $s sees $port as $bad"; break; }
        done
        if [ -z "$problem" ]; then
          log "$port is a replica of $m, seen healthy by every live sentinel: $(secs $(($(now_us) - t0)))s"
          return 0
        fi
      else
        problem="$port is $(role_of "$port" || true), not yet an in-sync replica of $m"
      fi
    else
      problem=${m#!}
    fi
    [ $SECONDS -lt $deadline ] || die "$port not a healthy replica after ${seconds}s: $problem"
    sleep 0.5
  done
}

cmd_wait_replica() {
  local dir=$1 port=$2 seconds=${3:-$default_wait_s}
  [ -d "$dir" ] || die "$dir does not exist"
  dir=$(abs_dir "$dir")
  data_dir_of "$port" "$dir" >/dev/null
  wait_replica "$dir" "$port" "$seconds"
}

cmd_restart() {
  local dir=$1 port=$2 nowait=$3 node_dir pid m deadline problem t0
  [ -d "$dir" ] || die "$dir does not exist"
  dir=$(abs_dir "$dir")
  if [ -f "$dir/node-$port/redis.conf" ]; then
    node_dir="$dir/node-$port"
  elif [ -f "$dir/sentinel-$port/sentinel.conf" ]; then
    node_dir="$dir/sentinel-$port"
  else
    die "no data node or sentinel of port $port in $dir"
  fi
  pid=$(node_pid "$node_dir")
  [ -z "$pid" ] || die "$port is already running (pid $pid)"
  # A stale pid file of a killed process: removed so the new one is its own.
  rm -f "$(pid_file "$node_dir")" "$node_dir/killed-at"
  log "restarting $port"
  t0=$(now_us)
  launch_node "$node_dir" || { tail_logs "$node_dir"; die "redis-server failed to start on port $port"; }
  if ! wait_ping "$node_dir" "$ping_wait_s"; then
    tail_logs "$node_dir"
    running_nodes_of "$dir" "$node_dir" | stop_nodes || true
    die "$port did not start (no PONG within ${ping_wait_s}s, or it aborted: see its log above)"
  fi
  log "$port answers PING (pid $(node_pid "$node_dir")): $(secs $(($(now_us) - t0)))s"
  if is_sentinel_dir "$node_dir"; then apply_debug "$dir" "$port"; fi
  [ -z "$nowait" ] || return 0
  if is_sentinel_dir "$node_dir"; then
    deadline=$((SECONDS + default_wait_s))
    while :; do
      if m=$(agreed_master "$dir"); then
        problem=$(sentinel_problem "$port" "$m")
        [ -n "$problem" ] || break
      else
        problem=${m#!}
      fi
      [ $SECONDS -lt $deadline ] || die "sentinel $port not in step with the others after ${default_wait_s}s: $problem"
      sleep 0.1
    done
    log "sentinel $port names master $m like the others: $(secs $(($(now_us) - t0)))s"
  else
    wait_replica "$dir" "$port" "$default_wait_s" "$t0"
  fi
}

valid_port() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

[ $# -ge 1 ] || usage
case "$1" in
  start | stop | ports | master | kill-master)
    { [ $# -eq 2 ] && [ -n "$2" ]; } || usage
    case "$1" in
      start) cmd_start "$2" ;;
      stop) cmd_stop "$2" ;;
      ports) cmd_ports "$2" ;;
      master) cmd_master "$2" ;;
      kill-master) cmd_kill_master "$2" ;;
    esac ;;
  wait-failover | wait-replica)
    { [ $# -ge 3 ] && [ $# -le 4 ] && [ -n "$2" ]; } || usage
    valid_port "$3" || usage
    [ $# -eq 3 ] || [[ "$4" =~ ^[0-9]+$ ]] || usage
    if [ "$1" = wait-failover ]; then cmd_wait_failover "$2" "$3" "${4:-}"; else cmd_wait_replica "$2" "$3" "${4:-}"; fi ;;
  restart)
    { [ $# -ge 3 ] && [ $# -le 4 ] && [ -n "$2" ]; } || usage
    valid_port "$3" || usage
    [ $# -eq 3 ] || [ "$4" = --no-wait ] || usage
    cmd_restart "$2" "$3" "${4:+yes}" ;;
  -h | --help | help)
    usage ;;
  *)
    usage ;;
esac
