#!/usr/bin/env bash
# A real Slurm (Debian's slurmctld, slurmd, munge) for tests, started and stopped like the
# Prometheus of the cluster tests. Root only; nothing leaves loopback or the namespaces made here.
#
#   cluster.sh start [--nodes 1|2]   start (idempotent: a cluster already up with that many nodes and the
#                                    same slurm.conf is kept; otherwise it is restarted)
#   cluster.sh stop                  cancel every job, stop every daemon, remove the namespaces
#   cluster.sh status                print the state; exit 0 when up, 1 when down
#   cluster.sh run CMD [ARG...]      run a Slurm client command (srun, sbatch, sinfo...) against the
#                                    cluster: SLURM_CONF set and, with 2 nodes, in the nodes' network
#   cluster.sh env                   print `export SLURM_CONF=...` for a shell (1 node only: with 2 nodes
#                                    the clients must run through `cluster.sh run`, in the namespace)
#
# One node, "na" (CPUs=8 declared whatever the cores, config_overrides), listens on 127.0.0.1. Two
# nodes, "na" and "nb", live in two network namespaces joined by a veth pair on their own subnet
# (CT_SLURM_SUBNET.1 and .2, /24); each slurmd runs under `unshare --uts --mount` with its own host
# name and a private tmpfs on /dev/shm, and slurmctld runs in na's network. Cross-node mpirun needs
# `--mca oob_tcp_if_include $CT_SLURM_SUBNET.0/24`; mpirun as root needs OMPI_ALLOW_RUN_AS_ROOT=1
# OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 (set by `run`).
#
# Environment (all optional):
#   CT_SLURM_DIR          state, configuration and logs (default: target/slurm-cluster of this checkout;
#                         printed by start). Logs are under $CT_SLURM_DIR/log.
#   CT_SLURM_CONF_EXTRA   lines appended to slurm.conf (e.g. accounting storage settings)
#   CT_SLURM_PLUGSTACK    a plugstack.conf to use (default: an empty one, so that nothing installed in
#                         /etc/slurm/plugstack.conf.d is loaded)
#   CT_SLURM_PORT         slurmctld's port; slurmd takes the next one (default: derived from CT_SLURM_DIR)
#   CT_SLURM_SUBNET       first three octets of the 2-node subnet (default: derived from CT_SLURM_DIR)
#   CT_SLURM_NETNS        prefix of the namespace names (default: derived from CT_SLURM_DIR)
# The defaults derived from the directory let two checkouts run clusters side by side. munged runs
# here with its own key and socket (slurm.conf's AuthInfo), never the system's.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${CT_SLURM_DIR:-$root/target/slurm-cluster}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
hash_="$(printf '%s' "$dir" | cksum | cut -d' ' -f1)"
port="${CT_SLURM_PORT:-$((20000 + (hash_ % 10000) * 2))}"
subnet="${CT_SLURM_SUBNET:-10.$((100 + hash_ % 100)).$((hash_ / 100 % 250))}"
ns="${CT_SLURM_NETNS:-ct$((hash_ % 100000))}"
conf="$dir/slurm.conf"
host="$(hostname -s)"

die() { echo "cluster.sh: $*" >&2; exit 1; }
nodes_up() { [ -f "$dir/nodes" ] && cat "$dir/nodes" || echo 0; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1" 2> /dev/null)" 2> /dev/null; }

# Runs a client command against the cluster (in na's network with two nodes).
client() {
  export SLURM_CONF="$conf" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  if [ "$(nodes_up)" = 2 ]; then
    exec nsenter --net="/run/netns/$ns-na" -- "$@"
  fi
  exec "$@"
}

write_conf() {
  local n="$1" out="$2" ctl_addr="127.0.0.1" plug="$dir/plugstack.conf"
  [ "$n" = 2 ] && ctl_addr="$subnet.1"
  if [ -n "${CT_SLURM_PLUGSTACK:-}" ]; then
    [ -f "$CT_SLURM_PLUGSTACK" ] || die "CT_SLURM_PLUGSTACK=$CT_SLURM_PLUGSTACK is not a file"
    plug="$(cd "$(dirname "$CT_SLURM_PLUGSTACK")" && pwd)/$(basename "$CT_SLURM_PLUGSTACK")"
  else
    : > "$plug"
  fi
  cat > "$out" << EOF
ClusterName=ct
SlurmctldHost=$host($ctl_addr)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.%n.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
PlugStackConfig=$plug
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
InactiveLimit=0
KillWait=5
MinJobAge=30
SlurmdTimeout=300
EOF
  if [ "$n" = 2 ]; then
    echo "NodeName=na NodeAddr=$subnet.1 NodeHostname=na CPUs=8 State=UNKNOWN" >> "$out"
    echo "NodeName=nb NodeAddr=$subnet.2 NodeHostname=nb CPUs=8 State=UNKNOWN" >> "$out"
  else
    echo "NodeName=na NodeAddr=127.0.0.1 NodeHostname=$host CPUs=8 State=UNKNOWN" >> "$out"
  fi
  echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES" >> "$out"
  if [ -n "${CT_SLURM_CONF_EXTRA:-}" ]; then printf '%s\n' "$CT_SLURM_CONF_EXTRA" >> "$out"; fi
}

start_munge() {
  mkdir -p "$dir/munge"
  chmod 700 "$dir/munge"
  [ -s "$dir/munge/munge.key" ] || { head -c 1024 /dev/urandom > "$dir/munge/munge.key"; chmod 600 "$dir/munge/munge.key"; }
  alive "$dir/munge/munged.pid" && return 0
  munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
    || die "munged did not start (log: $dir/log/munged.log)"
}

make_namespaces() {
  ip netns add "$ns-na" && ip netns add "$ns-nb" || die "cannot create network namespaces $ns-na, $ns-nb"
  ip link add "$ns-a" netns "$ns-na" type veth peer name "$ns-b" netns "$ns-nb" || die "cannot create the veth pair"
  ip -n "$ns-na" addr add "$subnet.1/24" dev "$ns-a"
  ip -n "$ns-nb" addr add "$subnet.2/24" dev "$ns-b"
  for x in na nb; do
    ip -n "$ns-$x" link set lo up
  done
  ip -n "$ns-na" link set "$ns-a" up
  ip -n "$ns-nb" link set "$ns-b" up
}

# slurmd of node $1: in its namespaces with 2 nodes (own host name, private /dev/shm).
start_slurmd() {
  local node="$1" n="$2"
  mkdir -p "$dir/spool/$node"
  if [ "$n" = 2 ]; then
    nsenter --net="/run/netns/$ns-$node" -- unshare --uts --mount -- sh -c \
      'hostname "$1" && mount -t tmpfs -o mode=1777 tmpfs /dev/shm && exec slurmd -f "$2" -N "$1"' sh "$node" "$conf" \
      || die "slurmd $node did not start (log: $dir/log/slurmd.$node.log)"
  else
    slurmd -f "$conf" -N "$node" || die "slurmd $node did not start (log: $dir/log/slurmd.$node.log)"
  fi
}

wait_idle() {
  local n="$1" i out
  for i in $(seq 1 60); do
    out="$( (client sinfo -h -N -o '%N %t') 2> /dev/null || true)"
    if [ "$(printf '%s\n' "$out" | grep -cE ' (idle|mix|alloc)$')" = "$n" ]; then return 0; fi
    sleep 0.5
  done
  die "nodes not idle after 30 s: ${out:-no answer from slurmctld} (logs: $dir/log)"
}

do_start() {
  local n=1
  if [ "${1:-}" = "--nodes" ]; then n="${2:-}"; fi
  [ "$n" = 1 ] || [ "$n" = 2 ] || die "start [--nodes 1|2]"
  [ "$(id -u)" = 0 ] || die "must run as root (slurmd, namespaces)"
  for t in slurmctld slurmd munged srun nsenter unshare ip; do
    command -v "$t" > /dev/null || die "$t not found (scripts/setup.sh installs slurmctld slurmd slurm-client munge)"
  done
  write_conf "$n" "$dir/slurm.conf.next"
  if [ "$(nodes_up)" = "$n" ] && cmp -s "$dir/slurm.conf.next" "$conf" && do_status > /dev/null 2>&1; then
    echo "cluster.sh: already up with $n node(s); SLURM_CONF=$conf; logs in $dir/log"
    return 0
  fi
  do_stop > /dev/null
  mkdir -p "$dir/log" "$dir/state"
  mv "$dir/slurm.conf.next" "$conf"
  start_munge
  echo "$n" > "$dir/nodes"
  if [ "$n" = 2 ]; then
    make_namespaces
    nsenter --net="/run/netns/$ns-na" -- slurmctld -f "$conf" || die "slurmctld did not start (log: $dir/log/slurmctld.log)"
    start_slurmd na 2
    start_slurmd nb 2
  else
    slurmctld -f "$conf" || die "slurmctld did not start (log: $dir/log/slurmctld.log)"
    start_slurmd na 1
  fi
  wait_idle "$n"
  echo "cluster.sh: up with $n node(s); SLURM_CONF=$conf; logs in $dir/log"
}

# Slurm and munge daemons with a file open under $dir: job steps left by a killed slurmd, and so on
# (only those, by name, so that a caller logging there is spared).
pids_in_dir() {
  local p f
  for p in /proc/[0-9]*; do
    case "$(cat "$p/comm" 2> /dev/null)" in slurmstepd | slurmd | slurmctld | munged) ;; *) continue ;; esac
    for f in "$p"/cwd "$p"/fd/*; do
      case "$(readlink "$f" 2> /dev/null)" in "$dir"/*) echo "${p#/proc/}"; break ;; esac
    done
  done
}

stop_pidfile() {
  local f="$1" i
  alive "$f" || return 0
  kill "$(cat "$f" 2> /dev/null)" 2> /dev/null || true
  for i in $(seq 1 50); do alive "$f" || return 0; sleep 0.1; done
  kill -9 "$(cat "$f" 2> /dev/null)" 2> /dev/null || true
}

do_stop() {
  local n p i f
  n="$(nodes_up)"
  if [ "$n" != 0 ] && [ -f "$conf" ]; then
    (client scancel --quiet --full --user=root) > /dev/null 2>&1 || true
    (client scancel --quiet --user=root) > /dev/null 2>&1 || true
    sleep 1
  fi
  for f in "$dir"/slurmd.*.pid "$dir/slurmctld.pid"; do stop_pidfile "$f"; done
  if [ -n "$(ls /run/netns 2> /dev/null | grep -E "^$ns-n[ab]$" || true)" ]; then
    for x in na nb; do
      for p in $(ip netns pids "$ns-$x" 2> /dev/null); do kill -9 "$p" 2> /dev/null || true; done
      ip netns del "$ns-$x" 2> /dev/null || true
    done
  fi
  stop_pidfile "$dir/munge/munged.pid"
  for i in 1 2 3; do
    p="$(pids_in_dir | grep -vx "$$" || true)"
    [ -z "$p" ] && break
    # shellcheck disable=SC2086
    kill -9 $p 2> /dev/null || true
    sleep 0.3
  done
  rm -rf "$dir/state" "$dir/spool" "$dir"/*.pid "$dir/nodes"
  echo "cluster.sh: stopped; logs kept in $dir/log"
}

do_status() {
  local n ok=0 f
  n="$(nodes_up)"
  [ "$n" != 0 ] || { echo "cluster.sh: down"; return 1; }
  alive "$dir/munge/munged.pid" || { echo "munged: down"; ok=1; }
  alive "$dir/slurmctld.pid" || { echo "slurmctld: down"; ok=1; }
  for x in na nb; do
    [ "$x" = nb ] && [ "$n" = 1 ] && continue
    alive "$dir/slurmd.$x.pid" || { echo "slurmd $x: down"; ok=1; }
  done
  [ "$ok" = 0 ] || { echo "cluster.sh: partly up (logs in $dir/log)"; return 1; }
  (client sinfo -N) || return 1
  echo "cluster.sh: up with $n node(s); SLURM_CONF=$conf; logs in $dir/log"
}

case "${1:-}" in
  start) shift; do_start "$@" ;;
  stop) do_stop ;;
  status) do_status ;;
  run) shift; [ $# -gt 0 ] || die "run CMD [ARG...]"; client "$@" ;;
  env) echo "export SLURM_CONF=$conf OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1" ;;
  *) die "usage: cluster.sh start [--nodes 1|2] | stop | status | run CMD... | env" ;;
esac
