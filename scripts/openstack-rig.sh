#!/usr/bin/env bash
# The real OpenStack of ../shared/openstack-env (Keystone, Cinder on Ceph RBD, Nova with FakeDriver,
# Glance, the RADOS Gateway) for `pnpm test:openstack` and `pnpm test:repositories` (CI: .ci/run).
#   up    apt-get update, install the Debian packages (install.sh all) and start the full rig —
#         unless a rig is running already, which is then used and left as it is; a dead rig's
#         leftover pid files are cleared first
#   down  stop the rig, if `up` started it
# Run as root (apt, and the rig's daemons).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
env_dir=${OPENSTACK_ENV_DIR:-$here/../../shared/openstack-env}
rig=${RIG:-/var/lib/osrig}
marker=$rig/.started-by-backup-service-ci
steps=${RIG_STEPS:-db rabbit keystone ceph cinder nova rgw}

case "${1:-}" in
  up)
    if ls "$rig"/pids/*.pid >/dev/null 2>&1 && curl -s -o /dev/null -m 5 http://127.0.0.1:5000/v3; then
      echo "openstack rig: already running (pids in $rig/pids), using it"
      exit 0
    fi
    # Pid files of a rig that does not answer: its processes died with an earlier run or machine
    # (start.sh refuses to start over them). stop.sh ends whatever of it is left and clears them.
    if ls "$rig"/pids/*.pid >/dev/null 2>&1; then
      echo "openstack rig: pid files in $rig/pids but Keystone does not answer; stopping what is left"
      "$env_dir/stop.sh"
    fi
    t0=$(date +%s)
    apt-get update -qq
    "$env_dir/install.sh" all
    t1=$(date +%s)
    STEPS="$steps" "$env_dir/start.sh"
    touch "$marker"
    echo "openstack rig: installed in $((t1 - t0)) s, started in $(($(date +%s) - t1)) s"
    ;;
  down)
    if [ -f "$marker" ]; then
      "$env_dir/stop.sh"
      rm -f "$marker"
    fi
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
