#!/bin/sh
# `npm test`: every test tier. Picks Node >= 22 (installing Node 24 and the dependencies when needed).
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root"
exec sh scripts/node.sh node_modules/vitest/vitest.mjs run "$@"
