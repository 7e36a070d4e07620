#!/usr/bin/env bash
# make demo: a fresh dossier home, bundled sample scans generated, ingested end to end, shown.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOSSIER_HOME="${DOSSIER_HOME:-$PWD/var/demo}"
export PREFECT_HOME="$DOSSIER_HOME/prefect"
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=90
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false OMP_THREAD_LIMIT=1
DOSSIER=.venv/bin/dossier

echo "== dossier demo in $DOSSIER_HOME (starts fresh each time)"
rm -rf "$DOSSIER_HOME"
$DOSSIER init

echo "== generating sample scans (license, ID copy, form, bank permit, rotated page, bundle PDF)"
samples="$PWD/var/demo-samples"
rm -rf "$samples"
.venv/bin/python -m bench.samples "$samples" >/dev/null
mkdir -p "$DOSSIER_HOME/intake/扫描仪-01"
find "$samples" -maxdepth 1 -type f ! -name truth.json -exec cp {} "$DOSSIER_HOME/intake/扫描仪-01/" \;
ls "$DOSSIER_HOME/intake/扫描仪-01"

echo "== a clerk's drop: ingest the intake folder"
$DOSSIER ingest --now

echo "== the review queue and the customers it created"
$DOSSIER documents list
$DOSSIER customers list

echo "== where things are"
echo "  intake      $DOSSIER_HOME/intake"
echo "  archive     $DOSSIER_HOME/archive   (archive/ = normalized PDFs, originals/ = input bytes)"
echo "  quarantine  $DOSSIER_HOME/quarantine"
echo "  database    $DOSSIER_HOME/dossier.db"
find "$DOSSIER_HOME/archive" -path '*/.dossier-meta' -prune -o -type f -print | sed "s|$DOSSIER_HOME/archive/|  |" | sort
echo "Next: DOSSIER_HOME=$DOSSIER_HOME $DOSSIER documents show 1"
