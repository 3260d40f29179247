#!/usr/bin/env bash
# Makes .venv-fhir/, a virtual environment with the independent FHIR R4 validator the
# black-box tests run every served resource through: fhir.resources 6.5.0 (the last
# release line whose default models are R4 4.0.1; it needs pydantic 1), and the stock
# FHIR client an EHR's backend might use, fhirpy, with PyJWT to sign its SMART Backend
# Services assertion (tests/blackbox/fhir_client.rs). Idempotent.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=$PWD/.venv-fhir
if "$VENV/bin/python" -c 'import fhir.resources, fhirpy, jwt; assert fhir.resources.__version__ == "6.5.0"' 2>/dev/null; then
  exit 0
fi
command -v python3 >/dev/null || { echo "python3 is required"; exit 1; }
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "fhir.resources==6.5.0" "pydantic>=1.10,<2" "fhirpy==2.3.1" "PyJWT[crypto]==2.10.1"
