#!/usr/bin/env bash
# Prints Ferry's version from `git describe`, in a form every package format takes:
#   on a tag v1.2.0                 1.2.0
#   3 commits after it              1.2.0+git3.gabc1234
#   no tag yet (145 commits)        0.0.0+git145.gabc1234
# with ".dirty" appended when the work tree has uncommitted changes. FERRY_VERSION overrides it.
set -euo pipefail
if [[ -n ${FERRY_VERSION:-} ]]; then
  echo "$FERRY_VERSION"
  exit 0
fi
cd "$(dirname "$0")/.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "0.0.0+unknown"
  exit 0
fi
# Dirty: a tracked file changed. Building and testing change none (their screenshots go to the
# ignored build/out, and the bindings that wails build writes again are committed as it writes them).
dirty=""
git diff --quiet HEAD -- 2>/dev/null || dirty=".dirty"
if desc=$(git describe --tags --long --match 'v[0-9]*' 2>/dev/null); then
  # v1.2.0-3-gabc1234
  hash=${desc##*-}
  rest=${desc%-*}
  count=${rest##*-}
  tag=${rest%-*}
  base=${tag#v}
  if [[ $count == 0 ]]; then
    echo "${base}${dirty:++git0.${hash}${dirty}}"
  else
    echo "${base}+git${count}.${hash}${dirty}"
  fi
else
  echo "0.0.0+git$(git rev-list --count HEAD).g$(git rev-parse --short=7 HEAD)${dirty}"
fi
