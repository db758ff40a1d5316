#!/usr/bin/env bash
# Cross-compiles the headless ferry command and archives it with the licence and the README:
#   DIST/ferry-<version>-<os>-<arch>.tar.gz   linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
#   DIST/ferry-<version>-windows-amd64.zip    ferry.exe, for Windows users
#
#   build/package/tarballs.sh DIST
set -euo pipefail

source "$(dirname "$0")/lib.sh"
ldflags="-s -w -X github.com/ferrysync/ferry/backend/buildinfo.version=$version"

mkdir -p "$dist"
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64; do
  goos=${target%/*} goarch=${target#*/}
  name=ferry-$version-$goos-$goarch
  exe=ferry
  [[ $goos == windows ]] && exe=ferry.exe
  dir=$dist/.stage/tar/$name
  rm -rf "$dir"
  mkdir -p "$dir"
  CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -ldflags "$ldflags" -o "$dir/$exe" ./backend/cmd/ferry
  cp LICENSE README.md "$dir/"
  touch -d "@$SOURCE_DATE_EPOCH" "$dir" "$dir"/*
  tar -C "$(dirname "$dir")" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$SOURCE_DATE_EPOCH" -cf - "$name" | gzip -9n >"$dist/$name.tar.gz"
  if [[ $goos == windows ]]; then
    rm -f "$dist/$name.zip"
    (cd "$(dirname "$dir")" && zip -X -q -r "$dist/$name.zip" "$name")
  fi
  echo "package: $name"
done
