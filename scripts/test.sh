#!/bin/sh
# `npm test`: every test tier. Picks Node >= 22 (installing Node 24 and the dependencies when needed).
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root"
# Installs what the tests need when it is missing (quiet and about a second when it is all there),
# so that `npm test` works on a fresh machine too.
bash scripts/setup.sh
exec sh scripts/node.sh node_modules/vitest/vitest.mjs run "$@"
