#!/usr/bin/env bash
# Builds Ferry's Linux packages into DIST from binaries already built:
#   ferry_<version>_amd64.deb, ferry-<version>.x86_64.rpm                 desktop app and ferry
#   ferry-server_<version>_amd64.deb, ferry-server-<version>.x86_64.rpm   ferry and its service
#
#   build/package/linux.sh DIST DESKTOP_BIN FERRY_BIN
#
# Needs nfpm (a Go tool of this module), ImageMagick and dpkg-dev (make package installs them).
set -euo pipefail

desktop_bin=$(realpath "$2") ferry_bin=$(realpath "$3")
source "$(dirname "$0")/lib.sh"
app_id=io.github.ferrysync.Ferry
maintainer="Ferry contributors <ferrysync@users.noreply.github.com>"
nfpm=(go tool nfpm)

stage=$dist/.stage/linux
rm -rf "$stage"
mkdir -p "$stage"/{icons,man,completions,doc-ferry,doc-ferry-server}

# Icons in the hicolor sizes, and the drawing itself.
for size in 16 24 32 48 64 128 256 512; do
  mkdir -p "$stage/icons/${size}x${size}/apps"
  convert build/appicon.png -resize "${size}x${size}" -strip -define png:exclude-chunks=date,time \
    "PNG32:$stage/icons/${size}x${size}/apps/$app_id.png"
done
mkdir -p "$stage/icons/scalable/apps"
cp build/appicon.svg "$stage/icons/scalable/apps/$app_id.svg"

# Manual pages and shell completions, from the command itself.
"$ferry_bin" man "$stage/man"
gzip -9n "$stage"/man/*.1
gzip -9n <build/linux/ferry-desktop.1 >"$stage/ferry-desktop.1.gz"
"$ferry_bin" completion bash >"$stage/completions/ferry.bash"
"$ferry_bin" completion zsh >"$stage/completions/_ferry"
"$ferry_bin" completion fish >"$stage/completions/ferry.fish"

sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$(date -u -d "@$SOURCE_DATE_EPOCH" +%F)/" \
  "build/linux/$app_id.metainfo.xml" >"$stage/$app_id.metainfo.xml"

# /usr/share/doc/<package>: the licence in Debian's format, a changelog, the server guide.
for pkg in ferry ferry-server; do
  doc=$stage/doc-$pkg
  {
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: Ferry"
    echo "Source: https://github.com/ferrysync/ferry"
    echo
    echo "Files: *"
    echo "Copyright: 2026 Ferry contributors"
    echo "License: MIT"
    sed -n '3,$p' LICENSE | sed -e 's/^$/./' -e 's/^/ /'
  } >"$doc/copyright"
  {
    echo "$pkg ($version) unstable; urgency=medium"
    echo
    echo "  * Built from commit $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)."
    echo
    echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
  } | gzip -9n >"$doc/changelog.gz"
done
cp docs/server.md "$stage/doc-ferry-server/server.md"

# The libraries a binary links, as Debian packages with the versions it was built against.
mkdir -p "$stage/shlibs/debian"
printf 'Source: ferry\n\nPackage: ferry\nArchitecture: amd64\n' >"$stage/shlibs/debian/control"
depends() {
  local deps
  deps=$(cd "$stage/shlibs" && dpkg-shlibdeps -O "$@" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
  [[ -n $deps ]] || { echo "package: dpkg-shlibdeps found no libraries for $*" >&2; exit 1; }
  tr ',' '\n' <<<"$deps" | sed 's/^ *//; s/^/    - /'
}
desktop_depends=$(depends "$desktop_bin" "$ferry_bin")
server_depends=$(depends "$ferry_bin")

common() { # name, description
  cat <<YAML
name: $1
arch: amd64
platform: linux
version: "$version"
version_schema: none
section: utils
priority: optional
maintainer: "$maintainer"
vendor: Ferry contributors
homepage: https://github.com/ferrysync/ferry
license: MIT
description: |-
$2
YAML
}

common ferry "  Synchronize folders, on this machine or between machines
  Ferry compares folders and mirrors, updates or two-way synchronizes them,
  locally or between machines through a session server that sees no file
  name or content. This package holds the desktop app (ferry-desktop) and
  the ferry command." >"$stage/ferry.yaml"
cat >>"$stage/ferry.yaml" <<YAML
conflicts: [ferry-server]
contents:
  - {src: $desktop_bin, dst: /usr/bin/ferry-desktop, file_info: {mode: 0755}}
  - {src: $ferry_bin, dst: /usr/bin/ferry, file_info: {mode: 0755}}
  - {src: build/linux/$app_id.desktop, dst: /usr/share/applications/$app_id.desktop, file_info: {mode: 0644}}
  - {src: $stage/$app_id.metainfo.xml, dst: /usr/share/metainfo/$app_id.metainfo.xml, file_info: {mode: 0644}}
  - {src: $stage/icons/, dst: /usr/share/icons/hicolor/, type: tree}
  - {src: $stage/man/, dst: /usr/share/man/man1/, type: tree}
  - {src: $stage/ferry-desktop.1.gz, dst: /usr/share/man/man1/ferry-desktop.1.gz, file_info: {mode: 0644}}
  - {src: $stage/completions/ferry.bash, dst: /usr/share/bash-completion/completions/ferry, file_info: {mode: 0644}}
  - {src: $stage/completions/_ferry, dst: /usr/share/zsh/vendor-completions/_ferry, file_info: {mode: 0644}}
  - {src: $stage/completions/ferry.fish, dst: /usr/share/fish/vendor_completions.d/ferry.fish, file_info: {mode: 0644}}
  - {src: $stage/doc-ferry/copyright, dst: /usr/share/doc/ferry/copyright, file_info: {mode: 0644}}
  - {src: $stage/doc-ferry/changelog.gz, dst: /usr/share/doc/ferry/changelog.gz, file_info: {mode: 0644}}
overrides:
  deb:
    depends:
$desktop_depends
  rpm:
    depends: [webkit2gtk4.1, gtk3, libsoup3, glib2]
YAML

common ferry-server "  Ferry session server, as a system service
  The server that Ferry's members meet through: it creates sessions, admits
  members and relays their end-to-end encrypted file parts, without seeing
  any file name, path, content or password. Runs as ferry-server.service;
  settings in /etc/ferry/server.conf." >"$stage/ferry-server.yaml"
cat >>"$stage/ferry-server.yaml" <<YAML
conflicts: [ferry]
overrides:
  deb:
    depends:
$server_depends
    - passwd
contents:
  - {src: $ferry_bin, dst: /usr/bin/ferry, file_info: {mode: 0755}}
  - {src: build/linux/server/ferry-server.service, dst: /usr/lib/systemd/system/ferry-server.service, file_info: {mode: 0644}}
  - {src: build/linux/server/sysusers.conf, dst: /usr/lib/sysusers.d/ferry-server.conf, file_info: {mode: 0644}}
  - {src: build/linux/server/server.conf, dst: /etc/ferry/server.conf, type: config|noreplace, file_info: {mode: 0644}}
  - {src: $stage/man/, dst: /usr/share/man/man1/, type: tree}
  - {src: $stage/completions/ferry.bash, dst: /usr/share/bash-completion/completions/ferry, file_info: {mode: 0644}}
  - {src: $stage/doc-ferry-server/copyright, dst: /usr/share/doc/ferry-server/copyright, file_info: {mode: 0644}}
  - {src: $stage/doc-ferry-server/changelog.gz, dst: /usr/share/doc/ferry-server/changelog.gz, file_info: {mode: 0644}}
  - {src: $stage/doc-ferry-server/server.md, dst: /usr/share/doc/ferry-server/server.md, file_info: {mode: 0644}}
  - {src: build/package/lintian/ferry-server, dst: /usr/share/lintian/overrides/ferry-server, file_info: {mode: 0644}, packager: deb}
scripts:
  postinstall: build/package/scripts/server-postinstall.sh
  preremove: build/package/scripts/server-preremove.sh
  postremove: build/package/scripts/server-postremove.sh
YAML

mkdir -p "$dist"
for pkg in ferry ferry-server; do
  "${nfpm[@]}" package --config "$stage/$pkg.yaml" --packager deb --target "$dist/${pkg}_${version}_amd64.deb"
  "${nfpm[@]}" package --config "$stage/$pkg.yaml" --packager rpm --target "$dist/$pkg-$version.x86_64.rpm"
done
