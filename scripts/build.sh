#!/bin/sh
# Compiles the runtime (bin, core, bridges, config) to dist/ when a source is newer than the last
# build. Quiet and instant when dist/ is current; about 3 s otherwise.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root"
stamp=dist/.built
if [ -f "$stamp" ] && [ -z "$(find bin core bridges config types tsconfig.json tsconfig.build.json package-lock.json -newer "$stamp" -print 2>/dev/null | head -n 1)" ]; then
  exit 0
fi
tmp=$(mktemp -d "$root/.dist-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
sh scripts/node.sh node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir "$tmp" >&2
touch "$tmp/.built"
# Swap in whole, so a concurrent start never sees a half-written build.
rm -rf dist.old
if [ -d dist ]; then mv dist dist.old; fi
mv "$tmp" dist
rm -rf dist.old
trap - EXIT
