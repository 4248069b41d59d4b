#!/bin/sh
# Prints the path of a built checkout of Junction as it was before issue 15 (or at COMMIT), for
# BENCH_BEFORE: `BENCH_BEFORE=$(sh bench/before.sh) npm run bench xmpp` measures its CPU per
# message in the same rounds as today's. The checkout is a git worktree under the cache
# directory, sharing this clone's node_modules, so only a commit with the same package-lock.json
# is accepted (its launcher would otherwise reinstall the shared node_modules).
set -eu
root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
commit=${1:-6982225}
if ! git -C "$root" diff --quiet "$commit" HEAD -- package-lock.json; then
  echo "before.sh: $commit has another package-lock.json than this checkout; its dependencies would replace these" >&2
  exit 1
fi
dir=${JUNCTION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/junction}/before-$commit
if [ ! -f "$dir/package.json" ]; then
  rm -rf "$dir"
  git -C "$root" worktree prune
  git -C "$root" worktree add --detach -q "$dir" "$commit" >&2
fi
[ -e "$dir/node_modules" ] || ln -s "$root/node_modules" "$dir/node_modules"
sh "$dir/scripts/build.sh" >&2
echo "$dir"
