#!/usr/bin/env bash
# A throwaway local Redis Cluster for tests: 3 masters and 3 replicas of
# redis-server on free 127.0.0.1 ports, no persistence, files under DIR.
#
#   scripts/redis-cluster.sh start DIR [--tls PKI]
#       Starts the six nodes (DIR/node-PORT/ holds redis.conf, nodes.conf,
#       redis.log, redis.pid), creates the cluster and waits (up to 60 s) until
#       it is healthy. The last line of stdout is the URL to use:
#         redis+cluster://127.0.0.1:P1,...,127.0.0.1:P6   (masters first)
#       With --tls PKI (a directory made by scripts/make-test-pki.sh), each
#       node also serves TLS on port P+20000 with PKI's server-ip certificate,
#       and the cluster bus and replication run over TLS (tls-cluster yes,
#       tls-replication yes); the URL is then
#         rediss+cluster://127.0.0.1:P1+20000,...
#       Clients verify the nodes with PKI/ca.crt. The plain port stays open
#       for this script's own redis-cli.
#       Progress goes to stderr. On failure: an error, the node logs' tails,
#       the started nodes stopped, exit 1. Refuses (exit 1) when DIR already
#       has a running node.
#   scripts/redis-cluster.sh stop DIR
#       Stops every node under DIR (SHUTDOWN NOSAVE, then SIGTERM, then
#       SIGKILL), waits until they are gone, exits 0 even if some were already
#       dead. DIR and its files (logs) are left in place.
#   scripts/redis-cluster.sh restart DIR PORT
#       Starts the node of PORT again from DIR/node-PORT/redis.conf and waits
#       until it answers PING. Its nodes.conf is kept, so a killed master comes
#       back as a replica of the replica promoted in its place.
#
# Usage errors exit 64.
set -euo pipefail

prog="redis-cluster"
masters=3
replicas_per_master=1
nodes=$((masters * (1 + replicas_per_master)))
healthy_wait_s=60
ping_wait_s=30

usage() {
  cat >&2 <<EOF
usage: $0 start DIR [--tls PKI]
       $0 stop DIR
       $0 restart DIR PORT
EOF
  exit 64
}

log() { echo "$prog: $*" >&2; }
die() { log "error: $*"; exit 1; }

# redis-cli against one local node, bounded so a stopped or starved node
# cannot hang the script.
cli() {
  local port=$1
  shift
  timeout 5 redis-cli -h 127.0.0.1 -p "$port" "$@" </dev/null 2>/dev/null
}

abs_dir() { (cd "$1" && pwd -P); }

node_port() { local base=${1##*/}; echo "${base#node-}"; }

# The pid of the redis-server of node directory $1 if it is running, else
# nothing. A pid is only trusted when the process is a live (not zombie)
# redis-server whose working directory is the node's (redis chdirs to `dir`),
# or, only where there is no procfs at all, whose title is the node's
# "redis-server 127.0.0.1:PORT".
node_pid() {
  local node_dir=$1 pid
  [ -f "$node_dir/redis.pid" ] || return 0
  pid=$(tr -dc '0-9' <"$node_dir/redis.pid" 2>/dev/null || true)
  [ -n "$pid" ] && is_node_process "$pid" "$node_dir" && echo "$pid"
  return 0
}

is_alive() {
  local pid=$1 state
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/stat" ]; then
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || true
    [ "$state" != Z ] || return 1
  fi
  return 0
}

is_node_process() {
  local pid=$1 node_dir=$2 cwd title port
  is_alive "$pid" || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
  if [ -n "$cwd" ]; then
    [ "$cwd" = "$node_dir" ]
    return
  fi
  # With procfs, the cwd of our own nodes (same user) is always readable: an
  # unreadable one is another user's process, or one already exiting.
  [ ! -d /proc/self ] || return 1
  port=$(node_port "$node_dir")
  title=$(ps -p "$pid" -o args= 2>/dev/null || true)
  case "$title" in
    *"redis-server 127.0.0.1:$port" | *"redis-server 127.0.0.1:$port "*) return 0 ;;
    *) return 1 ;;
  esac
}

# True while pid $1 may still be the node of directory $2: alive and not
# provably another process (whose readable working directory is elsewhere,
# i.e. the pid was reused). For waiting only; signals need is_node_process.
may_be_node() {
  local pid=$1 node_dir=$2 cwd
  is_alive "$pid" || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
  [ -z "$cwd" ] || [ "$cwd" = "$node_dir" ]
}

# Every running redis-server of DIR $1, one "PID NODE_DIR" per line: those of
# the pid files, and any redis-server whose working directory is a node
# directory of DIR (a node started again without our pid file).
running_nodes() {
  local dir=$1 node_dir pid cwd
  declare -A seen=()
  for node_dir in "$dir"/node-*; do
    [ -d "$node_dir" ] || continue
    pid=$(node_pid "$node_dir")
    if [ -n "$pid" ]; then
      seen[$pid]=1
      echo "$pid $node_dir"
    fi
  done
  if command -v pgrep >/dev/null; then
    for pid in $(pgrep -x redis-server 2>/dev/null || true); do
      [ -z "${seen[$pid]:-}" ] || continue
      cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
      case "$cwd" in
        "$dir"/node-*) is_alive "$pid" && echo "$pid $cwd" ;;
      esac
    done
  fi
  return 0
}

# running_nodes_of DIR NODE_DIR...: the running_nodes lines of DIR whose node
# directory is one of the given ones (those found by working directory too,
# e.g. a node still starting, or one that has not written its pid file yet).
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

# Stops the nodes given as "PID NODE_DIR" lines on stdin and waits until their
# processes are gone: SHUTDOWN NOSAVE NOW, then SIGTERM, then SIGKILL. Each
# signal goes only to a pid that is still the node's own process (checked
# right before it): one that exited meanwhile may have had its pid reused.
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
  log "stopping ${#pids[@]} node(s): ports ${ports[*]}"
  for i in "${!pids[@]}"; do
    (
      # NOW: a master does not wait (shutdown-timeout) for lagging replicas.
      out=$(cli "${ports[$i]}" shutdown nosave now || true)
      case "$out" in
        *ERR*) cli "${ports[$i]}" shutdown nosave >/dev/null || true ;;
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

# wait_gone SECONDS PID NODE_DIR [PID NODE_DIR]...: true once none of the
# pids may still be its node (may_be_node).
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
    sleep 0.1
  done
}

# Six distinct ports P such that P and its cluster bus port P+10000 are free
# on 127.0.0.1, outside the kernel's ephemeral range (where outgoing
# connections could take them before the node binds) and without a node
# directory in DIR already. Arguments: ports to exclude.
pick_ports() {
  TLS_OFFSET=$([ -n "$tls_pki" ] && echo 20000 || echo 0) python3 - "$nodes" "$@" <<'PY'
import os, random, socket, sys

count = int(sys.argv[1])
tls = int(os.environ.get("TLS_OFFSET", "0"))
exclude = {int(p) for p in sys.argv[2:]}
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = (int(x) for x in f.read().split())
except (OSError, ValueError):
    lo, hi = 32768, 60999
ephemeral = lambda p: lo <= p <= hi
candidates = [p for p in range(10000, 65535 - tls - 10000 + 1)
              if not ephemeral(p) and not ephemeral(p + 10000) and not (tls and ephemeral(p + tls))]
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

# A node listens on P and its bus P+10000; with TLS also on P+20000 and, as
# tls-cluster moves the bus onto TLS, on that port's bus P+30000 (which
# cannot also stay outside the ephemeral range: it is only checked free).
def ports(p):
    return {p, p + 10000} | ({p + tls, p + tls + 10000} if tls else set())

chosen, taken = [], set(exclude)
for p in candidates:
    if ports(p) & taken:
        continue
    if all(bindable(q) for q in ports(p)):
        chosen.append(p)
        taken |= ports(p)
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

write_conf() {
  local node_dir=$1 port=$2
  cat >"$node_dir/redis.conf" <<EOF
# Node of a throwaway test cluster (scripts/redis-cluster.sh).
port $port
bind 127.0.0.1
daemonize yes
dir $(conf_quote "$node_dir")
pidfile $(conf_quote "$node_dir/redis.pid")
logfile $(conf_quote "$node_dir/redis.log")
loglevel notice
save ""
appendonly no
cluster-enabled yes
cluster-config-file nodes.conf
cluster-node-timeout 3000
cluster-replica-validity-factor 0
cluster-require-full-coverage yes
# A replica's first sync starts at once (the default waits 5 s for more
# replicas to share a diskless transfer).
repl-diskless-sync-delay 0
# Replicas show in CLUSTER SLOTS only once their replication offset is
# non-zero; on an idle master that takes the first replication PING.
repl-ping-replica-period 1
# A replica loads its sync straight from the socket: no dump.rdb on disk that
# a restarted node would load.
repl-diskless-load swapdb
EOF
  if [ -n "$tls_pki" ]; then
    cat >>"$node_dir/redis.conf" <<EOF
# TLS beside the plain port: clients, the cluster bus and replication.
tls-port $((port + 20000))
tls-cert-file $(conf_quote "$tls_pki/server-ip.crt")
tls-key-file $(conf_quote "$tls_pki/server-ip.key")
tls-ca-cert-file $(conf_quote "$tls_pki/ca.crt")
tls-auth-clients optional
tls-cluster yes
tls-replication yes
EOF
  fi
}

# launch_node NODE_DIR: starts (daemonizes) the node from its redis.conf,
# remembering where its log ended so wait_ping can tell that run's death.
declare -A log_offset=()
launch_node() {
  local node_dir=$1
  log_offset[$node_dir]=$(wc -c 2>/dev/null <"$node_dir/redis.log" || echo 0)
  redis-server "$node_dir/redis.conf" >>"$node_dir/redis.log" 2>&1 </dev/null
}

# wait_ping NODE_DIR SECONDS: true once the node's own process (per its pid
# file) runs and the port answers PONG; false at once when the log shows that
# this run aborted (e.g. its port or bus port was taken meanwhile), or after
# SECONDS.
wait_ping() {
  local node_dir=$1 seconds=$2 port deadline
  port=$(node_port "$node_dir")
  deadline=$((SECONDS + seconds))
  while :; do
    if [ -n "$(node_pid "$node_dir")" ]; then
      [ "$(cli "$port" ping || true)" != PONG ] || return 0
    elif tail -c +"$((${log_offset[$node_dir]:-0} + 1))" "$node_dir/redis.log" 2>/dev/null \
        | grep -q -E 'aborting|ready to exit|FATAL|Fatal error'; then
      return 1
    fi
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

tail_logs() {
  local node_dir
  for node_dir in "$@"; do
    echo "----- $node_dir/redis.log (tail) -----" >&2
    tail -n 25 "$node_dir/redis.log" >&2 2>/dev/null || echo "(no log)" >&2
  done
}

# check_health PORT...: true when the cluster of these nodes is healthy; else
# false with the first problem in $health_problem.
health_problem=""
check_health() {
  local port info nodes_out verdict role link want listed
  for port in "$@"; do
    info=$(cli "$port" cluster info | tr -d '\r') || { health_problem="127.0.0.1:$port does not answer CLUSTER INFO"; return 1; }
    for want in cluster_state:ok cluster_slots_assigned:16384 "cluster_known_nodes:$nodes"; do
      grep -qx "$want" <<<"$info" || {
        health_problem="127.0.0.1:$port: $(grep "^${want%%:*}:" <<<"$info" || echo "no ${want%%:*}") (want $want)"
        return 1
      }
    done
    nodes_out=$(cli "$port" cluster nodes | tr -d '\r') || { health_problem="127.0.0.1:$port does not answer CLUSTER NODES"; return 1; }
    verdict=$(awk -v want_m="$masters" -v want_r="$replicas_per_master" '
      NF >= 8 {
        if ($3 ~ /fail|handshake|noaddr/) { bad = bad " " $2 "(" $3 ")" }
        if ($3 ~ /master/) { m++; reps[$1] += 0 }
        else if ($3 ~ /slave/) { s++; of[$1] = $4 }
      }
      END {
        if (bad != "") { print "flags:" bad; exit }
        if (m != want_m || s != want_m * want_r) { print m + 0 " masters and " s + 0 " replicas"; exit }
        for (r in of) { if (!(of[r] in reps)) { print "replica " r " of unknown master " of[r]; exit }; reps[of[r]]++ }
        for (id in reps) if (reps[id] != want_r) { print "master " id " has " reps[id] " replicas"; exit }
        print "ok"
      }' <<<"$nodes_out")
    [ "$verdict" = ok ] || { health_problem="127.0.0.1:$port sees $verdict"; return 1; }
    # Redis 7.0 leaves a replica out of CLUSTER SLOTS (what clients route
    # by) until gossip has carried a non-zero replication offset for it.
    listed=$(cli "$port" cluster slots | tr -d '\r' | grep -E '^[0-9a-f]{40}$' | sort -u | wc -l) || listed=0
    [ "$listed" -eq "$nodes" ] || { health_problem="127.0.0.1:$port lists $listed of $nodes nodes in CLUSTER SLOTS"; return 1; }
    role=$(cli "$port" role | head -n 1 | tr -d '\r') || role=""
    if [ "$role" = slave ]; then
      link=$(cli "$port" info replication | tr -d '\r' | grep '^master_link_status:' || true)
      [ "$link" = master_link_status:up ] || { health_problem="replica 127.0.0.1:$port has ${link:-no master_link_status}"; return 1; }
    fi
  done
  health_problem=""
  return 0
}

# The URL of the cluster as seen by node $1: masters in slot order, then
# each master's replica in the same order.
cluster_url() {
  local nodes_out url="" id port
  local -a master_ids=()
  nodes_out=$(cli "$1" cluster nodes | tr -d '\r')
  while read -r _ id port; do
    master_ids+=("$id")
    url+="${url:+,}127.0.0.1:$port"
  done < <(awk '$3 ~ /master/ { slot = $9; sub(/-.*/, "", slot); a = $2; sub(/@.*/, "", a); sub(/.*:/, "", a); print slot, $1, a }' <<<"$nodes_out" | sort -n)
  for id in "${master_ids[@]}"; do
    while read -r port; do
      url+=",127.0.0.1:$port"
    done < <(awk -v m="$id" '$3 ~ /slave/ && $4 == m { a = $2; sub(/@.*/, "", a); sub(/.*:/, "", a); print a }' <<<"$nodes_out" | sort -n)
  done
  if [ -n "$tls_pki" ]; then
    # The same nodes, by their TLS ports.
    local tls_url="" node
    IFS=, read -r -a listed <<<"$url"
    for node in "${listed[@]}"; do tls_url+="${tls_url:+,}127.0.0.1:$((${node##*:} + 20000))"; done
    echo "rediss+cluster://$tls_url"
  else
    echo "redis+cluster://$url"
  fi
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
    # By working directory as well as pid file: a node still starting, or
    # interrupted before writing its pid file, is stopped too.
    running_nodes_of "$start_dir" "${started_dirs[@]}" | stop_nodes || true
  fi
  exit $((rc == 0 ? 1 : rc))
}

cmd_start() {
  local dir=$1 running node_dir port t0=$SECONDS
  local -a ports existing=()
  mkdir -p "$dir" || die "cannot create $dir"
  dir=$(abs_dir "$dir")
  running=$(running_nodes "$dir")
  if [ -n "$running" ]; then
    die "$dir already has running redis-server node(s) (pid dir):
$running
stop them first: $0 stop $dir"
  fi
  for node_dir in "$dir"/node-*; do
    [ -d "$node_dir" ] && existing+=("$(node_port "$node_dir")")
  done
  read -r -a ports <<<"$(pick_ports "${existing[@]}")" || die "could not find $nodes free port pairs (P, P+10000) on 127.0.0.1"
  [ ${#ports[@]} -eq "$nodes" ] || die "could not find $nodes free port pairs (P, P+10000) on 127.0.0.1"

  start_dir=$dir
  trap on_start_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  log "starting $nodes nodes in $dir on ports ${ports[*]}"
  for port in "${ports[@]}"; do
    node_dir="$dir/node-$port"
    mkdir -p "$node_dir"
    write_conf "$node_dir" "$port"
    started_dirs+=("$node_dir")
    launch_node "$node_dir" || die "redis-server failed to start on port $port"
  done
  for node_dir in "${started_dirs[@]}"; do
    wait_ping "$node_dir" "$ping_wait_s" \
      || die "node $(node_port "$node_dir") did not start (no PONG within ${ping_wait_s}s, or it aborted: see its log)"
  done

  local -a addrs=()
  for port in "${ports[@]}"; do addrs+=("127.0.0.1:$port"); done
  log "creating the cluster"
  # TERM=dumb: no colour escapes in the progress output.
  TERM=dumb redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$replicas_per_master" --cluster-yes \
    </dev/null >&2 || die "redis-cli --cluster create failed"

  log "waiting (up to ${healthy_wait_s}s) for the cluster to be healthy"
  local deadline=$((SECONDS + healthy_wait_s))
  until check_health "${ports[@]}"; do
    [ $SECONDS -lt $deadline ] || die "cluster not healthy after ${healthy_wait_s}s: $health_problem"
    sleep 0.2
  done
  local url
  url=$(cluster_url "${ports[0]}")
  start_ok=1
  trap - EXIT INT TERM
  log "cluster healthy after $((SECONDS - t0))s"
  echo "$url"
}

cmd_stop() {
  local dir=$1
  if [ ! -d "$dir" ]; then
    log "$dir does not exist: nothing to stop"
    return 0
  fi
  dir=$(abs_dir "$dir")
  local running
  running=$(running_nodes "$dir")
  if [ -z "$running" ]; then
    log "no running node in $dir"
    return 0
  fi
  stop_nodes <<<"$running"
}

cmd_restart() {
  local dir=$1 port=$2 node_dir pid
  [ -d "$dir" ] || die "$dir does not exist"
  dir=$(abs_dir "$dir")
  node_dir="$dir/node-$port"
  [ -f "$node_dir/redis.conf" ] || die "no node of port $port in $dir ($node_dir/redis.conf missing)"
  pid=$(node_pid "$node_dir")
  [ -z "$pid" ] || die "node $port is already running (pid $pid)"
  # A stale pid file of a killed node: removed so the new one is the node's own.
  rm -f "$node_dir/redis.pid"
  log "restarting node $port"
  launch_node "$node_dir" || { tail_logs "$node_dir"; die "redis-server failed to start on port $port"; }
  if ! wait_ping "$node_dir" "$ping_wait_s"; then
    tail_logs "$node_dir"
    running_nodes_of "$dir" "$node_dir" | stop_nodes || true
    die "node $port did not start (no PONG within ${ping_wait_s}s, or it aborted: see its log above)"
  fi
  log "node $port answers PING (pid $(node_pid "$node_dir"))"
}

[ $# -ge 1 ] || usage
tls_pki=""
case "$1" in
  start)
    [ $# -eq 2 ] || [ $# -eq 4 ] || usage
    [ -n "$2" ] || usage
    if [ $# -eq 4 ]; then
      [ "$3" = --tls ] && [ -f "$4/ca.crt" ] || usage
      tls_pki=$(abs_dir "$4")
    fi
    cmd_start "$2" ;;
  stop)
    [ $# -eq 2 ] && [ -n "$2" ] || usage
    cmd_stop "$2" ;;
  restart)
    [ $# -eq 3 ] && [ -n "$2" ] || usage
    [[ "$3" =~ ^[0-9]+$ ]] && [ "$3" -ge 1 ] && [ "$3" -le 65535 ] || usage
    cmd_restart "$2" "$3" ;;
  -h|--help|help)
    usage ;;
  *)
    usage ;;
esac
