#!/usr/bin/env bash
# Prepares this machine for `npm test`: Node >= 22 with the project's dependencies, Prosody,
# ejabberd and Chromium (from the distribution), and the Synapse virtualenv the end-to-end tests start. Idempotent: when
# everything is in place it prints nothing and takes about a second.
set -euo pipefail
root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root"

is_root() { [ "$(id -u)" = 0 ]; }

# apt-get install without starting the package's own system-wide service (scripts/apt-install.sh).
apt_install() { sh "$root/scripts/apt-install.sh" "$@"; }

# install_or_explain WHAT PACKAGE...: installs the packages when root (with apt-get), otherwise
# says the exact command and stops.
install_or_explain() {
  local what=$1; shift
  if is_root && command -v apt-get > /dev/null 2>&1; then
    echo "setup: installing $what (apt-get install $*)" >&2
    apt_install "$@"
  else
    echo "setup: $what is missing. As root: apt-get update && apt-get install -y $*" >&2
    exit 1
  fi
}

# 1. Node >= 22 (installs Node 24 from the npm registry when the system Node is older) and npm ci.
#    node.sh needs some npm (to fetch Node 24 and run npm ci); a bare machine gets the distribution's.
if ! command -v npm > /dev/null 2>&1; then
  install_or_explain "npm" nodejs npm
fi
sh scripts/node.sh -e 0

# 2. Prosody, which the XMPP end-to-end tests start on free loopback ports.
if ! command -v prosody > /dev/null 2>&1 || ! command -v prosodyctl > /dev/null 2>&1; then
  install_or_explain "Prosody" prosody
fi

# 2a. ejabberd, which test/e2e/ejabberd.test.ts starts as its own user on free loopback ports
#     (the operator's guide for ejabberd is checked against it).
if ! command -v ejabberdctl > /dev/null 2>&1 && [ ! -x /usr/sbin/ejabberdctl ]; then
  install_or_explain "ejabberd" ejabberd
fi

# 2b. Headless Chromium (Debian's package), which renders the status page in an end-to-end test.
if ! command -v chromium > /dev/null 2>&1 && ! command -v chromium-browser > /dev/null 2>&1; then
  install_or_explain "Chromium" chromium
fi

# 3. Python 3 with venv support, for the Synapse virtualenv.
if ! python3 -c 'import venv, ensurepip' > /dev/null 2>&1; then
  install_or_explain "Python 3 with venv" python3 python3-venv
fi

# 4. The Synapse virtualenv (${JUNCTION_CACHE:-~/.cache/junction}/synapse-venv), shared with the
#    tests, which create it the same way (with a lock) if it is still missing when they run.
sh scripts/node.sh test/harness/synapse-venv.ts
