#!/usr/bin/env bash
# Install everything dossier needs on a Debian machine. Idempotent: safe to run again.
#   - Debian packages: tesseract (chi_sim, eng, osd), CJK fonts, LibreOffice (headless),
#     Chromium (browser tests), poppler-utils, jbig2dec, Dovecot IMAP (e-mail intake tests; run
#     by the tests themselves, unprivileged), PostgreSQL when none is installed
#   - .venv with dossier installed editable, pinned by constraints.txt
# Uses apt-get as root, sudo otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng tesseract-ocr-osd
  fonts-noto-cjk fonts-wqy-zenhei fonts-arphic-ukai
  libreoffice-writer-nogui libreoffice-calc-nogui
  chromium poppler-utils jbig2dec
  dovecot-imapd
)
command -v pg_ctlcluster >/dev/null 2>&1 || command -v psql >/dev/null 2>&1 || APT_PACKAGES+=(postgresql)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for cand in python3.11 python3.12 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PYTHON="$cand"; break; fi
  done
fi
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

stamp=".venv/.dossier-installed"
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing dossier into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
  echo "$want" > "$stamp"
fi
echo "bootstrap: ready"
