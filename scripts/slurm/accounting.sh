#!/usr/bin/env bash
# Slurm's accounting storage for tests: a MariaDB of its own (its data, socket and port under
# $CT_ACCT_DIR, listening on 127.0.0.1 only) and a slurmdbd on loopback. Root only. Then start
# the cluster with the lines `conf` prints in CT_SLURM_CONF_EXTRA (scripts/slurm/cluster.sh).
#
#   accounting.sh start   start MariaDB and slurmdbd (idempotent)
#   accounting.sh conf    print the slurm.conf lines that send the cluster's jobs to this slurmdbd
#   accounting.sh stop    stop slurmdbd and MariaDB (the database is kept for the next start)
#   accounting.sh wipe    stop them and delete the database (its log is kept in the logs folder)
#
# Environment: CT_ACCT_DIR (default: target/slurm-accounting of this checkout), CT_ACCT_PORT
# (slurmdbd's port; MariaDB takes the next one; default derived from the directory), and the
# munge socket slurmdbd authenticates with, CT_MUNGE_SOCKET (default: cluster.sh's, under
# CT_SLURM_DIR or target/slurm-cluster).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${CT_ACCT_DIR:-$root/target/slurm-accounting}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
hash_="$(printf '%s' "$dir" | cksum | cut -d' ' -f1)"
port="${CT_ACCT_PORT:-$((40000 + (hash_ % 5000) * 2))}"
db_port=$((port + 1))
munge_socket="${CT_MUNGE_SOCKET:-${CT_SLURM_DIR:-$root/target/slurm-cluster}/munge/munge.socket}"
# The server's own files go where its user (mysql) can reach them: a checkout may sit below a
# directory only root may enter (a `mktemp -d`, mode 0700), so not under $dir but in a folder of
# /tmp named after it (start and stop find the same one).
srv="/tmp/carbon-tracker-acct-$hash_"
sock="$srv/run/mysqld.sock"

die() { echo "accounting.sh: $*" >&2; exit 1; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1" 2> /dev/null)" 2> /dev/null; }

wait_for() {
  local what="$1" i
  shift
  for i in $(seq 1 60); do
    if "$@" > /dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$what not ready after 30 s (logs in $dir)"
}

start_db() {
  alive "$srv/run/mysqld.pid" && return 0
  mkdir -p "$srv"
  chmod 755 "$srv"
  if [ ! -d "$srv/db/mysql" ]; then
    mkdir -p "$srv/db"
    chown mysql:mysql "$srv/db"
    mariadb-install-db --user=mysql --datadir="$srv/db" --auth-root-authentication-method=socket \
      --skip-test-db > "$dir/install-db.log" 2>&1 || die "mariadb-install-db failed (log: $dir/install-db.log)"
  fi
  # The server's user writes its socket, pid file and log there.
  mkdir -p "$srv/run"
  chown mysql:mysql "$srv/run"
  mariadbd --user=mysql --datadir="$srv/db" --socket="$sock" --port="$db_port" --bind-address=127.0.0.1 \
    --pid-file="$srv/run/mysqld.pid" --log-error="$srv/run/mysqld.log" --skip-name-resolve > /dev/null 2>&1 &
  wait_for "MariaDB" mariadb --socket="$sock" -e 'select 1'
  mariadb --socket="$sock" -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'ct-test';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
}

# Slurm's clients (sacct, sacctmgr) reach slurmdbd through munge's default socket, whatever
# slurm.conf's AuthInfo says (seen on 22.05): a munged with the cluster's key serves it, unless one
# is there already.
default_munge() {
  local d=/run/munge key
  key="$(dirname "$munge_socket")/munge.key"
  if [ -S "$d/munge.socket.2" ]; then
    # One there already (munge's service): it must share the cluster's key.
    munge -n --socket="$d/munge.socket.2" 2> /dev/null | unmunge --socket="$munge_socket" > /dev/null 2>&1 ||
      die "the munged on $d/munge.socket.2 does not have the cluster's key ($key): stop it, or give it that key"
    return 0
  fi
  [ -s "$key" ] || die "no munge key at $key"
  mkdir -p "$d"
  munged --force --socket="$d/munge.socket.2" --key-file="$key" --pid-file="$dir/munged-default.pid" \
    --log-file="$dir/munged-default.log" --seed-file="$dir/munged-default.seed" || die "munged did not start"
}

start_dbd() {
  alive "$dir/slurmdbd.pid" && return 0
  [ -S "$munge_socket" ] || die "no munged at $munge_socket (start scripts/slurm/cluster.sh first, or set CT_MUNGE_SOCKET)"
  cat > "$dir/slurmdbd.conf" << EOF
AuthType=auth/munge
AuthInfo=socket=$munge_socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$port
SlurmUser=root
PidFile=$dir/slurmdbd.pid
LogFile=$dir/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=ct-test
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$dir/slurmdbd.conf"
  # slurmdbd reads slurmdbd.conf beside $SLURM_CONF.
  SLURM_CONF="$dir/slurm.conf" slurmdbd || die "slurmdbd did not start (log: $dir/slurmdbd.log)"
  wait_for "slurmdbd" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
}

stop_pidfile() {
  local f="$1" i
  alive "$f" || return 0
  kill "$(cat "$f" 2> /dev/null)" 2> /dev/null || true
  for i in $(seq 1 100); do alive "$f" || return 0; sleep 0.1; done
  kill -9 "$(cat "$f" 2> /dev/null)" 2> /dev/null || true
}

stop_all() {
  stop_pidfile "$dir/slurmdbd.pid"
  stop_pidfile "$dir/munged-default.pid"
  stop_pidfile "$srv/run/mysqld.pid"
  # A server still starting has no pid file yet: found by its data directory.
  local i
  pkill -f -- "--datadir=$srv/db" 2> /dev/null || return 0
  for i in $(seq 1 100); do pgrep -f -- "--datadir=$srv/db" > /dev/null || return 0; sleep 0.1; done
  pkill -9 -f -- "--datadir=$srv/db" 2> /dev/null || true
}

case "${1:-}" in
  start)
    [ "$(id -u)" = 0 ] || die "must run as root"
    for t in mariadbd mariadb-install-db mariadb slurmdbd; do
      command -v "$t" > /dev/null || die "$t not found (scripts/setup.sh installs mariadb-server slurmdbd)"
    done
    start_db
    default_munge
    start_dbd
    echo "accounting.sh: slurmdbd on 127.0.0.1:$port, MariaDB on 127.0.0.1:$db_port; logs in $dir"
    ;;
  conf)
    printf '%s\n' "AccountingStorageType=accounting_storage/slurmdbd" "AccountingStorageHost=127.0.0.1" \
      "AccountingStoragePort=$port" "AccountingStorageTRES=cpu,mem,node"
    ;;
  stop)
    stop_all
    echo "accounting.sh: stopped; logs kept in $dir"
    ;;
  wipe)
    # The database outlives `stop` and sits outside $dir, so a test that wants fresh job ids and
    # no cluster registered yet must wipe it: a second run in the same checkout found its old one.
    stop_all
    [ -f "$srv/run/mysqld.log" ] && cp "$srv/run/mysqld.log" "$dir/mysqld.log"
    rm -rf "$srv"
    echo "accounting.sh: database deleted; logs kept in $dir"
    ;;
  *) die "usage: accounting.sh start | conf | stop | wipe" ;;
esac
