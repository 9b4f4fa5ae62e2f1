#!/usr/bin/env bash
# `pnpm test:repositories`: the repository tests of issue 10 — the volume-backup round-trip,
# incremental (storage efficiency), delete/GC and verify tests, and test/repositories (object-store
# contract, encryption at rest, kill -9 during a backup, recovery without the database) — against
# each remote backend of the RADOS Gateway of ../shared/openstack-env (STEPS="… rgw" ./start.sh):
# S3 on 127.0.0.1:7480 and Swift through Keystone on 127.0.0.1:5000. TEST_REPOSITORIES chooses the
# backends (default "s3 swift"); `pnpm test` runs the same files on the filesystem repository.
set -euo pipefail
cd "$(dirname "$0")/.."

endpoint="${TEST_S3_ENDPOINT:-http://127.0.0.1:7480}"
if ! curl -fsS -m 10 -o /dev/null "$endpoint"; then
  echo "test:repositories: no RADOS Gateway at $endpoint (start the rig with rgw: see ../shared/openstack-env/README.md)" >&2
  exit 1
fi

files=(
  test/volume-backups/round-trip.test.ts
  test/volume-backups/storage-efficiency.test.ts
  test/volume-backups/delete-and-gc.test.ts
  test/volume-backups/verify.test.ts
  test/repositories/
)
status=0
for backend in ${TEST_REPOSITORIES:-s3 swift}; do
  echo "== repository backend: $backend"
  TEST_REPOSITORY="$backend" npx vitest run "${files[@]}" || status=1
done
exit $status
