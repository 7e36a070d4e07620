#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 (the tests create and drop their own database).
set -euo pipefail
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then exit 0; fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$version" ]; then
  echo "ensure-postgres: no PostgreSQL cluster found; run scripts/bootstrap.sh" >&2
  exit 1
fi
echo "ensure-postgres: starting PostgreSQL $version"
$SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
  sleep 1
done
echo "ensure-postgres: PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
