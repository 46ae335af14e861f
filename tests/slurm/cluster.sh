#!/usr/bin/env bash
# A single-node SLURM cluster on this machine for tests/test_slurm.py: munge, MariaDB + slurmdbd (accounting, so
# `sacct` answers the executor plugin's status queries as on a real site), slurmctld and slurmd. Everything it
# writes lives in one state folder; the system's /etc/slurm is not used (the clients read $SLURM_CONF).
#
#   tests/slurm/cluster.sh install     apt-get the Debian packages (root; network to Debian's mirrors)
#   tests/slurm/cluster.sh start       write the configs, start the daemons, wait until the node is idle
#   tests/slurm/cluster.sh stop        stop the daemons this script started (by their pid files)
#   tests/slurm/cluster.sh env         print the environment a client needs (eval "$(cluster.sh env)")
#
# The node offers 2 CPUs, 4000 MB and one GPU *resource* (a gres without a device: SLURM counts it, nothing runs on
# it), so `--gpus=1` submissions are accepted and visible in sacct's ReqTRES. Ports are not SLURM's defaults
# (16817-16819, MariaDB 13306 on 127.0.0.1) so the cluster never collides with a site installation.
# LEA_SLURM_DIR names the state folder (default: /tmp/lea-slurm-$UID).
set -euo pipefail

D=${LEA_SLURM_DIR:-/tmp/lea-slurm-$(id -u)}
HOST=$(hostname -s)
CLUSTER=lea
ACCOUNT=lea
PARTITION=lea

log() { echo "cluster.sh: $*" >&2; }
die() {
  log "$*"
  exit 1
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...: poll once a second until COMMAND succeeds
  local secs=$1 what=$2
  shift 2
  for ((i = 0; i < secs; i++)); do
    if "$@" > /dev/null 2>&1; then return 0; fi
    sleep 1
  done
  die "$what did not come up within ${secs}s; logs in $D/log and $D/mysql-run"
}

cmd_install() {
  [[ $(id -u) -eq 0 ]] || die "install needs root (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends slurm-wlm slurmdbd munge mariadb-server
}

cmd_env() {
  echo "export SLURM_CONF=$D/etc/slurm.conf"
}

write_configs() {
  mkdir -p "$D"/{etc,log,run,state,spool,munge,mysql,mysql-run}
  chmod 755 "$D" "$D/munge" # munged wants its socket's folder reachable by every job user
  chown mysql:mysql "$D/mysql" "$D/mysql-run" # MariaDB runs as mysql: its data, socket and log live there
  # a fresh key per cluster: nothing outside the state folder can talk to these daemons
  if [[ ! -s $D/munge/munge.key ]]; then
    dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$D/munge/munge.key"
  fi
  local auth="AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.socket"
  cat > "$D/etc/slurm.conf" << EOF
# written by tests/slurm/cluster.sh
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
$auth
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=verbose
# a container without systemd or a writable cgroup tree: track processes by /proc, no task confinement
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=16819
# clients reach slurmdbd through the same (non-default) munge socket
AccountingStoragePass=$D/munge/munge.socket
AccountingStorageTRES=gres/gpu
AccountingStorageEnforce=associations
# the plugin names each job by its rule and wildcards in --comment: keep it in sacct
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
MpiDefault=none
SchedulerType=sched/backfill
# finished jobs stay visible to scontrol for 10 minutes (sacct keeps them for good)
MinJobAge=600
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=5
InactiveLimit=0
MailProg=/bin/true
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 RealMemory=4000 Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=60 State=UP
EOF
  cat > "$D/etc/gres.conf" << EOF
NodeName=$HOST Name=gpu File=/dev/null Count=1
EOF
  cat > "$D/etc/slurmdbd.conf" << EOF
$auth
DbdHost=localhost
DbdPort=16819
SlurmUser=root
LogFile=$D/log/slurmdbd.log
PidFile=$D/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=13306
StorageUser=slurm
StoragePass=lea-test-only
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$D/etc/slurmdbd.conf"
}

# snakemake-executor-plugin-slurm-jobstep (0.6.1) drops every SLURM_* variable, SLURM_CONF included, before the
# `srun` that runs a rule inside its job, so srun finds the configuration only at the default path: link it there for
# the cluster's lifetime (never over a configuration this script did not write).
SYSTEM_CONF=/etc/slurm/slurm.conf
link_system_conf() {
  if [[ -e $SYSTEM_CONF || -L $SYSTEM_CONF ]] && [[ $(readlink "$SYSTEM_CONF") != "$D/etc/slurm.conf" ]]; then
    die "$SYSTEM_CONF exists and is not this test cluster's: this machine has its own SLURM; run the test elsewhere"
  fi
  mkdir -p "$(dirname "$SYSTEM_CONF")"
  ln -sfn "$D/etc/slurm.conf" "$SYSTEM_CONF"
}

running() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2> /dev/null; }

start_mariadb() {
  if running "$D/mysql-run/mariadb.pid"; then return; fi
  if [[ ! -d $D/mysql/mysql ]]; then
    mariadb-install-db --user=mysql --datadir="$D/mysql" --auth-root-authentication-method=socket \
      > "$D/log/mariadb-install.log" 2>&1 || die "mariadb-install-db failed; see $D/log/mariadb-install.log"
  fi
  nohup mariadbd --no-defaults --user=mysql --datadir="$D/mysql" --port=13306 --bind-address=127.0.0.1 \
    --socket="$D/mysql-run/mysql.sock" --pid-file="$D/mysql-run/mariadb.pid" --log-error="$D/mysql-run/mariadb.log" \
    --innodb-buffer-pool-size=32M > /dev/null 2>&1 &
  wait_for 60 MariaDB mariadb --no-defaults --socket="$D/mysql-run/mysql.sock" -u root -e "SELECT 1"
  mariadb --no-defaults --socket="$D/mysql-run/mysql.sock" -u root << 'EOF'
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'lea-test-only';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'lea-test-only';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
FLUSH PRIVILEGES;
EOF
}

cmd_start() {
  [[ $(id -u) -eq 0 ]] || die "start needs root (slurmd runs jobs as their submitting user)"
  for exe in munged slurmctld slurmd slurmdbd mariadbd sbatch sacctmgr; do
    command -v "$exe" > /dev/null || die "$exe not found: run '$0 install' first"
  done
  write_configs
  export SLURM_CONF=$D/etc/slurm.conf
  link_system_conf
  if ! running "$D/run/munged.pid"; then
    munged --force --key-file="$D/munge/munge.key" --socket="$D/munge/munge.socket" \
      --pid-file="$D/run/munged.pid" --log-file="$D/log/munged.log" --seed-file="$D/munge/munge.seed"
  fi
  wait_for 20 munged test -S "$D/munge/munge.socket"
  start_mariadb
  if ! running "$D/run/slurmdbd.pid"; then slurmdbd; fi # reads slurmdbd.conf beside $SLURM_CONF
  wait_for 60 slurmdbd sacctmgr -i list cluster
  # the cluster, one account and root in it (AccountingStorageEnforce=associations needs the association)
  if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then sacctmgr -i add cluster "$CLUSTER"; fi
  if ! sacctmgr -n -P list account format=account | grep -qx "$ACCOUNT"; then
    sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description="lea-pipeline tests" organization=lea
  fi
  if ! sacctmgr -n -P list user format=user | grep -qx root; then
    sacctmgr -i add user root account="$ACCOUNT" defaultaccount="$ACCOUNT" cluster="$CLUSTER"
  elif ! sacctmgr -n -P list assoc user=root format=account | grep -qx "$ACCOUNT"; then
    sacctmgr -i add user root account="$ACCOUNT" cluster="$CLUSTER"
  fi
  # -c: a fresh start forgets the jobs and node states of an earlier one (accounting keeps their records)
  if ! running "$D/run/slurmctld.pid"; then slurmctld -c -f "$SLURM_CONF"; fi
  wait_for 60 slurmctld scontrol ping
  if ! running "$D/run/slurmd.pid"; then slurmd -f "$SLURM_CONF"; fi
  wait_for 60 "node $HOST" sh -c "sinfo -h -N -o %t -n $HOST | grep -qx idle"
  log "up: $(sinfo -h -o '%P %D %t %c %m %G') (SLURM $(sinfo -V | cut -d' ' -f2)); $(cmd_env)"
}

stop_pid() { # stop_pid NAME: TERM the daemon of $D/run/NAME.pid, then KILL after 20 s
  local f=$D/run/$1.pid
  [[ $1 != mariadb ]] || f=$D/mysql-run/mariadb.pid
  running "$f" || return 0
  local pid
  pid=$(cat "$f")
  kill "$pid" 2> /dev/null || true
  for ((i = 0; i < 20; i++)); do
    kill -0 "$pid" 2> /dev/null || return 0
    sleep 1
  done
  kill -9 "$pid" 2> /dev/null || true
}

cmd_stop() {
  if [[ -s $D/etc/slurm.conf ]]; then
    # jobs left over by a failed test would keep slurmstepd processes alive
    SLURM_CONF=$D/etc/slurm.conf scancel --user=root --quiet 2> /dev/null || true
  fi
  for name in slurmd slurmctld slurmdbd mariadb munged; do stop_pid "$name"; done
  if [[ $(readlink "$SYSTEM_CONF" 2> /dev/null) == "$D/etc/slurm.conf" ]]; then rm -f "$SYSTEM_CONF"; fi
  log "stopped (state in $D)"
}

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  *) die "usage: $0 install|start|stop|env" ;;
esac
