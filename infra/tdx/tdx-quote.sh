#!/usr/bin/env bash
# Inside a TD: asks the TDX module for a quote through configfs-tsm (what ConfigFsTsmQuoteProvider does) with
# REPORTDATA all zero, and writes it to OUT (default quote.bin). Used on a reference boot of a freshly built image to
# read its measurements: 'image-hash.sh quote.bin' prints the image hash for the root contract's allow-list.
#
#   infra/tdx/tdx-quote.sh [OUT]
set -euo pipefail
out="${1:-quote.bin}"
tsm=/sys/kernel/config/tsm/report
[[ -d "$tsm" ]] || { echo "tdx-quote.sh: $tsm is missing: not a TD, or configfs/CONFIG_TSM_REPORTS not available" >&2; exit 1; }
entry="$(mktemp -u "$tsm/cocoon-ref-XXXXXX")"
mkdir "$entry"
trap 'rmdir "$entry"' EXIT
head -c 64 /dev/zero > "$entry/inblob"
cat "$entry/outblob" > "$out"
echo "wrote $(stat -c %s "$out") bytes of quote to $out (provider: $(cat "$entry/provider" 2>/dev/null || echo unknown))"
