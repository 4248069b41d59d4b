#!/bin/sh
# Runs a script with Node >= 22, installing Node 24 from the npm registry when the system Node is
# older (or has no C headers), and installing the project's dependencies (npm ci) when they are
# missing or stale.
# Usage: sh scripts/node.sh FILE [ARGS...]
#
# Why headers: npm runs `node-gyp rebuild` for better-sqlite3 (it has a binding.gyp), and node-gyp
# wants Node's C headers before it can see that the shipped prebuilt binary needs no build. Without
# headers on disk it downloads them from outside the npm registry, which fails on machines that
# reach only the registries. So we hand npm the headers of the very Node that runs it
# (npm_config_nodedir): the node@24 package ships its own; a system Node has them where its
# distribution put them (e.g. Debian's libnode-dev).
set -eu
self=$0
while [ -L "$self" ]; do
  link=$(readlink "$self")
  case $link in /*) self=$link ;; *) self=$(dirname -- "$self")/$link ;; esac
done
root=$(CDPATH= cd -- "$(dirname -- "$self")/.." && pwd)
cache=${JUNCTION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/junction}

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Prints the directory that holds include/node/node.h for the given node binary, if any.
node_headers() {
  bin=$(readlink -f -- "$1" 2>/dev/null || echo "$1")
  prefix=$(dirname -- "$(dirname -- "$bin")")
  for dir in "$prefix" "$prefix"/node_modules/node-*; do
    if [ -f "$dir/include/node/node.h" ]; then echo "$dir"; return 0; fi
  done
  version=$("$1" -p 'process.versions.node' 2>/dev/null || echo none)
  # A machine where node-gyp already fetched them once (not a fresh one).
  gyp="${XDG_CACHE_HOME:-$HOME/.cache}/node-gyp/$version"
  if [ -f "$gyp/include/node/node.h" ]; then echo "$gyp"; return 0; fi
  return 1
}

# Node 24 from the npm registry (the binary and its headers come inside the node@24 package).
bundled_node() {
  local24="$cache/node24/node_modules/.bin/node"
  if [ ! -x "$local24" ] || [ "$(node_major "$local24")" -lt 22 ] || ! node_headers "$local24" > /dev/null; then
    echo "junction: installing Node 24 from the npm registry into $cache/node24 (about 50 MB, once)" >&2
    mkdir -p "$cache/node24"
    if ! npm install --prefix "$cache/node24" --no-audit --no-fund --loglevel=error node@24 >&2; then
      echo "junction: could not install Node 24 (npm install node@24 failed, see above)." >&2
      echo "junction: install Node.js 22 or newer together with its headers (Debian: apt-get install nodejs libnode-dev)," >&2
      echo "junction: or make the npm registry reachable, then run this again." >&2
      exit 1
    fi
  fi
  echo "$local24"
}

pick_node() {
  if [ -n "${JUNCTION_NODE:-}" ]; then echo "$JUNCTION_NODE"; return; fi
  if command -v node > /dev/null 2>&1 && [ "$(node_major node)" -ge 22 ]; then
    if node_headers "$(command -v node)" > /dev/null; then
      command -v node; return
    fi
    echo "junction: the system Node $(node -v) has no C headers (Debian: libnode-dev); using Node 24 from the npm registry instead" >&2
  fi
  bundled_node
}

if ! command -v npm > /dev/null 2>&1; then
  echo "junction: npm is missing. Install Node.js 22 or newer with npm (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
node_bin=$(pick_node)
PATH="$(dirname -- "$node_bin"):$PATH"
export PATH

# npm ci when node_modules is missing or was installed from another lock file or Node major.
# A packed install (npm install -g) has no lock file and already has its dependencies.
stamp="$root/node_modules/.junction-stamp"
if [ -f "$root/package-lock.json" ]; then
  want="$(node -p 'process.versions.modules')-$(cksum < "$root/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    if [ -z "${npm_config_nodedir:-}" ]; then
      if headers=$(node_headers "$node_bin"); then
        npm_config_nodedir=$headers
        export npm_config_nodedir
      else
        echo "junction: Node $(node -v) at $node_bin has no C headers, which npm needs for better-sqlite3." >&2
        echo "junction: install them (Debian: apt-get install libnode-dev) or set JUNCTION_NODE to a Node 22+ that has them." >&2
        exit 1
      fi
    fi
    echo "junction: installing dependencies (npm ci)" >&2
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" > "$stamp"
  fi
fi

exec node "$@"
