#!/usr/bin/env bash
# Builds the measured Cocoon silo image (README.md, "Building the image") and, given the image's reference
# measurements, prints the image hash to put on the root contract's allow-list.
#
#   infra/tdx/build-image.sh [--measurements DIR|JSON|QUOTE] [--skip-build]
#
# 1. publishes cocoon-node self-contained for linux-x64 into mkosi/mkosi.extra/opt/cocoon (with appsettings.json),
# 2. copies cocoon-node.service into the image and runs mkosi (needs mkosi >= 24, root or user namespaces; no TDX),
# 3. prints the UKI's SHA-256 and the verity root hash, which pin everything in RTMR1 and RTMR2,
# 4. with --measurements: prints the image hash (cocoon attest image-hash, DESIGN 7) of the reference measurements:
#    a quote taken from a reference boot of this image on the target TDX host shape (tdx-quote.sh inside the TD), or
#    a folder of values / event digests computed offline (see README.md for the folder layout).
# MRTD and RTMR0 depend on the host's TD firmware and the VM shape (CPUs, memory, devices), not on this image: they
# come from the reference boot or the host's published reference values, never from this build.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
measurements=""
build=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --measurements) measurements="${2:?--measurements needs a path}"; shift 2 ;;
        --skip-build) build=0; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "build-image.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

if [[ $build -eq 1 ]]; then
    command -v mkosi >/dev/null || { echo "build-image.sh: mkosi is not installed (https://github.com/systemd/mkosi, >= 24)" >&2; exit 1; }
    extra="$here/mkosi/mkosi.extra"
    rm -rf "$extra/opt/cocoon"
    dotnet publish "$repo/src/Cocoon.Node/Cocoon.Node.csproj" -c Release -r linux-x64 --self-contained true \
        -p:PublishReadyToRun=true -p:Deterministic=true -p:ContinuousIntegrationBuild=true -o "$extra/opt/cocoon"
    install -m 0644 "$here/cocoon-node.service" "$extra/etc/systemd/system/cocoon-node.service"
    (cd "$here/mkosi" && mkosi --force build)
    echo "image:        $here/out/cocoon-node.raw"
    uki="$(ls "$here"/out/cocoon-node*.efi 2>/dev/null | head -n 1 || true)"
    if [[ -n "$uki" ]]; then
        echo "uki sha256:   $(sha256sum "$uki" | cut -d' ' -f1)   (measured into RTMR1 by the TD firmware)"
    fi
    if [[ -f "$here/out/cocoon-node.roothash" ]]; then
        echo "verity root:  $(cat "$here/out/cocoon-node.roothash")   (on the UKI command line: measured into RTMR2)"
    fi
fi

if [[ -n "$measurements" ]]; then
    "$here/image-hash.sh" "$measurements"
else
    echo "next: boot the image once as a TD on the production host shape, run tdx-quote.sh inside it, then"
    echo "      infra/tdx/build-image.sh --skip-build --measurements quote.bin"
fi
