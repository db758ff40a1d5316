# Sourced by the packaging scripts with their arguments: sets dist (the absolute form of the
# first argument, DIST), moves to the repository root, and sets version (build/version.sh) and
# SOURCE_DATE_EPOCH (the commit's time, so that a rebuild gives the same files).
dist=$(realpath -m "${1:?usage: $0 DIST …}")
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
version=$(build/version.sh)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
