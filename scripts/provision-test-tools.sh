#!/usr/bin/env bash
# System tools the test suite drives as real peers, installed from Debian when missing:
#   python3-openstackclient — the real `openstack` CLI run against the OpenStack simulator.
set -euo pipefail
need=()
command -v openstack >/dev/null 2>&1 || need+=(python3-openstackclient)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing test tools: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
else
  echo "the test suite needs: ${need[*]} — install it (sudo apt-get install -y ${need[*]}) and run again" >&2
  exit 1
fi
