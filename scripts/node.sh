#!/bin/sh
# Runs a script with Node >= 22, installing Node 24 from the npm registry when the system Node is
# older, and installing the project's dependencies (npm ci) when they are missing or stale.
# Usage: sh scripts/node.sh FILE [ARGS...]
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cache=${JUNCTION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/junction}

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

pick_node() {
  if command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge 22 ]; then
    command -v node; return
  fi
  local24="$cache/node24/node_modules/.bin/node"
  if [ ! -x "$local24" ] || [ "$(node_major "$local24")" -lt 22 ]; then
    echo "junction: system Node is older than 22; installing Node 24 into $cache/node24" >&2
    mkdir -p "$cache/node24"
    npm install --prefix "$cache/node24" --no-audit --no-fund --loglevel=error node@24 >&2
  fi
  echo "$local24"
}

node_bin=$(pick_node)
PATH="$(dirname "$node_bin"):$PATH"
export PATH

# npm ci when node_modules is missing or was installed from another lock file or Node major.
stamp="$root/node_modules/.junction-stamp"
want="$(node -p 'process.versions.modules')-$(cksum < "$root/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "junction: installing dependencies (npm ci)" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$want" > "$stamp"
fi

exec node "$@"
