#!/bin/sh
# Prints the path of a built checkout of Junction as it was before issue 15 (or at COMMIT), for
# BENCH_BEFORE: `BENCH_BEFORE=$(sh bench/before.sh) npm run bench xmpp` measures its CPU per
# message in the same rounds as today's. The checkout is a git worktree under the cache
# directory, sharing this clone's node_modules (the dependencies did not change since).
set -eu
root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
commit=${1:-6982225}
dir=${JUNCTION_CACHE:-$HOME/.cache/junction}/before-$commit
if [ ! -d "$dir" ]; then
  git -C "$root" worktree add --detach -q "$dir" "$commit" >&2
  ln -s "$root/node_modules" "$dir/node_modules"
fi
sh "$dir/scripts/build.sh" >&2
echo "$dir"
