#!/usr/bin/env bash
# Cross-compiles Ferry for Windows and builds its installer:
#   DIST/ferry-<version>-windows-amd64-setup.exe   installs ferry-desktop.exe and ferry.exe (NSIS)
#   DIST/.stage/windows/                            the files the installer holds
#
#   build/package/windows.sh DIST
#
# Needs the built frontend (make frontend), the Wails CLI and makensis (Debian package nsis).
# Leaves the work tree as it found it: build/windows/info.json lives only during the build.
set -euo pipefail

source "$(dirname "$0")/lib.sh"

fail() { echo "windows: $*" >&2; exit 1; }
for tool in go wails makensis; do
  command -v "$tool" >/dev/null || fail "$tool is not in PATH"
done
[[ -f frontend/dist/index.html ]] || fail "frontend/dist/index.html is missing: run make frontend first"

# Version resources take X.Y.Z.N, each part at most 65535: 1.2.0+git3.gabc1234 gives 1.2.0.3.
[[ $version =~ ^[0-9A-Za-z.+~_-]+$ && $version =~ ^([0-9]+)\.([0-9]+)\.([0-9]+) ]] ||
  fail "version $version does not start with X.Y.Z"
parts=("${BASH_REMATCH[@]:1}") count=0
[[ $version =~ \+git([0-9]+) ]] && count=${BASH_REMATCH[1]}
parts+=("$count")
for p in "${parts[@]}"; do
  ((10#$p <= 65535)) || fail "version $version: $p does not fit a Windows version number"
done
version4=$(IFS=.; echo "${parts[*]}")

copyright=$(grep -m1 '^Copyright' LICENSE)
stage=$dist/.stage/windows
setup=$dist/ferry-$version-windows-amd64-setup.exe
ldflags="-X github.com/ferrysync/ferry/backend/buildinfo.version=$version"
rm -rf "$stage"
mkdir -p "$stage"

# The desktop app. Wails compiles build/windows/{icon.ico,wails.exe.manifest,info.json} into a
# ferry-res.syso beside main.go for the build; both are removed even if the build is interrupted.
trap 'rm -f build/windows/info.json ferry-res.syso' EXIT
cat >build/windows/info.json <<JSON
{
  "fixed": {"file_version": "$version4", "product_version": "$version4"},
  "info": {
    "0409": {
      "CompanyName": "Ferry contributors",
      "FileDescription": "Ferry",
      "FileVersion": "$version4",
      "InternalName": "ferry-desktop",
      "LegalCopyright": "$copyright",
      "OriginalFilename": "ferry-desktop.exe",
      "ProductName": "Ferry",
      "ProductVersion": "$version"
    }
  }
}
JSON
wails build -platform windows/amd64 -o ferry-desktop.exe -ldflags "$ldflags" -trimpath \
  -s -skipbindings -skipembedcreate -m -nosyncgomod -nocolour
mv build/bin/ferry-desktop.exe "$stage/"

# The headless command, without cgo.
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath -ldflags "-s -w $ldflags" \
  -o "$stage/ferry.exe" ./backend/cmd/ferry
sed 's/$/\r/' LICENSE >"$stage/LICENSE.txt"

# The installer also holds Microsoft's WebView2 bootstrapper, the copy Wails ships. It keeps the
# files' dates: the commit's, so that a rebuild gives the same installer.
webview2_setup=$(go list -m -f '{{.Dir}}' github.com/wailsapp/wails/v2)/internal/webview2runtime/MicrosoftEdgeWebview2Setup.exe
[[ -f $webview2_setup ]] || fail "no WebView2 bootstrapper at $webview2_setup"
cp "$webview2_setup" "$stage/"
touch -d "@$SOURCE_DATE_EPOCH" "$stage"/*
makensis -V2 -INPUTCHARSET UTF8 -DVERSION="$version" -DVERSION4="$version4" -DCOPYRIGHT="$copyright" \
  -DBIN_DIR="$stage" -DOUTFILE="$setup" build/windows/installer/project.nsi
echo "package: $(basename "$setup")"
