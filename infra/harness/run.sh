#!/usr/bin/env bash
# The multi-process cluster harness (issue 10): 2 proxy + 2 worker cocoon-node processes, a throwaway PostgreSQL, the
# TON localnet and a load generator; fault phases; ledger invariants; a report. See README.md beside this script.
#
#   infra/harness/run.sh                 # the short form CI runs (12 s phases, about 3 minutes)
#   infra/harness/run.sh --long          # the long form: 60 s phases (the chain is down for about a minute)
#   infra/harness/run.sh --phase-seconds 30 --clients 8 --report /tmp/report.md
set -euo pipefail
cd "$(dirname "$0")/../.."

phase=12
clients=4
report="$(pwd)/artifacts/harness/harness-report.md"
while [ $# -gt 0 ]; do
  case "$1" in
    --long) phase=60; shift ;;
    --phase-seconds) phase="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --report) report="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

mkdir -p "$(dirname "$report")"
echo "harness: ${phase} s per phase, ${clients} clients; report in ${report}"
set +e
COCOON_HARNESS_PHASE_SECONDS="$phase" COCOON_HARNESS_CLIENTS="$clients" COCOON_HARNESS_REPORT="$report" \
  dotnet test tests/Cocoon.Cluster.Tests
status=$?
set -e
[ -f "$report" ] && cat "$report"
exit "$status"
