#!/usr/bin/env bash
# Prints an image's measurements and its image hash (DESIGN 7: SHA-256 over MRTD, MRCONFIGID, MROWNER,
# MROWNERCONFIG, RTMR0-3), computed by Cocoon's own code (cocoon attest image-hash).
#
#   infra/tdx/image-hash.sh MEASUREMENTS [--json]
#
# MEASUREMENTS: a raw quote (e.g. from tdx-quote.sh in a reference boot), a JSON file with mrtd/rtmr0..3 (e.g.
# 'cocoon attest inspect --json'), or a folder: files mrtd, rtmr0..rtmr3 (hex), optional mrconfigid, mrowner,
# mrownerconfig (default zero); an RTMR may instead be rtmrN.events (one SHA-384 event digest per line, replayed
# from zero) or rtmrN.d/ (files measured in name order).
# The CLI: $COCOON if set (a command, e.g. "dotnet /path/cocoon.dll"), else 'cocoon' on PATH.
set -euo pipefail
[[ $# -ge 1 ]] || { sed -n '2,11p' "$0" >&2; exit 2; }
read -r -a cli <<< "${COCOON:-cocoon}"
exec "${cli[@]}" attest image-hash "$@"
