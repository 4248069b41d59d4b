#!/bin/sh
# apt-get install PACKAGE... (as root) without starting the packages' own system-wide services:
# Debian's prosody would otherwise listen on every interface on 5222/5269. A temporary
# policy-rc.d refuses service starts while apt runs. Used by scripts/setup.sh and `junction sandbox`.
set -eu
policy=/usr/sbin/policy-rc.d
placed=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && placed=1
fi
cleanup() { if [ -n "$placed" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$@" > /dev/null
