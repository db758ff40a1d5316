#!/usr/bin/env bash
# Checks what build/package/windows.sh DIST built, under Wine and without a display:
#   ferry.exe --version and a mirror plan; ferry-desktop.exe's version resource (it cannot run:
#   Wine has no WebView2); then, for all users and for the current user, the installer's silent
#   install (files, shortcuts, uninstall entry, installed ferry.exe) and the silent uninstall that
#   the entry's QuietUninstallString runs. One PASS or FAIL line per check; stops at the first FAIL.
#
#   build/package/test-windows.sh DIST
#
# Needs wine and wine64 (Debian 12: Wine 8, 64-bit only), binutils and Go. The Wine prefix is
# cached in ${XDG_CACHE_HOME:-~/.cache}/ferry-package-test/wine, and kept only after a passing run.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
setup=$dist/ferry-$version-windows-amd64-setup.exe
stage=$dist/.stage/windows
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ferry-package-test
uninst_key='Software\Microsoft\Windows\CurrentVersion\Uninstall\Ferry'

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1" >&2; exit 1; }
# same NAME WANT GOT
same() {
  [[ $2 == "$3" ]] || fail "$1"$'\n'"$(diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed -n 's/^[<>]/  &/p')"
  pass "$1"
}

for f in "$setup" "$stage/ferry.exe" "$stage/ferry-desktop.exe"; do
  [[ -f $f ]] || fail "no $f: run build/package/windows.sh $1 first"
done

export WINEPREFIX=$cache/wine WINEARCH=win64 WINEDEBUG=-all
# No Mono or Gecko install prompts, no menu entries or file associations on the Linux side.
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
unset DISPLAY WAYLAND_DISPLAY
unix() { local p=${1#C:}; echo "$WINEPREFIX/drive_c${p//\\//}"; } # C:\a\b → prefix path
trap 'wineserver -k 2>/dev/null || true; rm -rf "$WINEPREFIX/drive_c/ferry-test"' EXIT

# The prefix: made again when the last run failed or this script changed.
stamp=$(cat "$0" build/windows/wine-bcryptprimitives.go | sha256sum)
if [[ $(cat "$cache/wine.ok" 2>/dev/null) != "$stamp" ]]; then
  rm -rf "$WINEPREFIX"
  mkdir -p "$cache"
  wineboot --init >"$cache/wine-init.log" 2>&1 || { cat "$cache/wine-init.log" >&2; fail "wineboot --init"; }
  wine winecfg /v win10 # Wine 8 says Windows 7; the installer wants 10
  # WebView2 counts as installed (as on Windows 11): Microsoft's bootstrapper needs the network.
  wine reg add 'HKLM\SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}' \
    /v pv /d 120.0.0.0 /f >/dev/null
  # Wine links the user's Desktop, Documents… to $HOME: make them folders of the prefix.
  find "$WINEPREFIX/drive_c/users" -maxdepth 2 -type l -exec sh -c 'rm "$1" && mkdir "$1"' _ {} \;
  # Go programs need ProcessPrng from bcryptprimitives.dll, which Wine 8 lacks.
  go run build/windows/wine-bcryptprimitives.go "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
fi
rm -f "$cache/wine.ok"

# The programs as built.
same "ferry.exe --version" "ferry $version" "$(wine "$stage/ferry.exe" --version)"
same "ferry-desktop.exe version resource" "$version" \
  "$(strings -el "$stage/ferry-desktop.exe" | grep -A1 -x ProductVersion | tail -n1)"

# A mirror plan from A to B: one file the same, one changed, one only in A (in a new folder), one
# only in B.
work=$WINEPREFIX/drive_c/ferry-test
rm -rf "$work"
mkdir -p "$work/A/docs" "$work/B"
echo same >"$work/A/same.txt"
echo same >"$work/B/same.txt"
echo "new content" >"$work/A/changed.txt"
echo old >"$work/B/changed.txt"
echo "only in A" >"$work/A/docs/new.txt"
echo "only in B" >"$work/B/old.txt"
find "$work" -exec touch -d 2024-01-01T10:00:00Z {} + # folders too: the roots then have no date to fix
same "ferry.exe plan --mode mirror" "Plan: 4 actions, 22 B to copy
  delete  on B   /old.txt
  create  on B   /docs
  copy    A → B  /changed.txt   12 B, full
  copy    A → B  /docs/new.txt  10 B, full
Deletes 1 of 3 files on B (C:\\ferry-test\\B)" \
  "$(wine "$stage/ferry.exe" plan --node 'A=C:\ferry-test\A' --node 'B=C:\ferry-test\B' --mode mirror | sed 's/ *$//')"

# A real synchronization that only copies (Wine 8 lacks the call Go deletes files with): an update
# of A into an empty C, through the embedded server; C then holds A's files with their dates.
mkdir -p "$work/C"
export FERRY_CONFIG_DIR='C:\ferry-test\config'
wine "$stage/ferry.exe" sync --node 'A=C:\ferry-test\A' --node 'C=C:\ferry-test\C' --mode update --yes \
  >"$work/sync.log" 2>&1 || { cat "$work/sync.log" >&2; fail "ferry.exe sync --mode update exited with $?"; }
unset FERRY_CONFIG_DIR
diff -r "$work/A" "$work/C" >/dev/null || fail "ferry.exe sync: C differs from A"
[[ $(stat -c %Y "$work/C/docs/new.txt") == $(stat -c %Y "$work/A/docs/new.txt") ]] ||
  fail "ferry.exe sync: modification time not kept"
pass "ferry.exe sync --mode update: the target equals the source, dates kept"

# install MODE HIVE INSTDIR MENU DESKTOP: a silent install in MODE (AllUsers or CurrentUser) into
# INSTDIR, registered under HIVE, with shortcuts in the folders MENU and DESKTOP; then the uninstall.
install() {
  local mode=$1 key="$2\\$uninst_key" instdir=$3 dir lnk f line
  local links=("$(unix "$4")/Ferry.lnk" "$(unix "$5")/Ferry.lnk")
  dir=$(unix "$instdir")

  wine "$setup" /S "/$mode" || fail "$mode: setup.exe /S /$mode exited with $?"
  pass "$mode: setup.exe /S /$mode"

  for f in ferry-desktop.exe ferry.exe LICENSE.txt; do
    cmp -s "$stage/$f" "$dir/$f" || fail "$mode: $instdir\\$f is missing or not the built one"
  done
  [[ -f $dir/uninstall.exe ]] || fail "$mode: no $instdir\\uninstall.exe"
  pass "$mode: files in $instdir"

  for lnk in "${links[@]}"; do
    strings -a "$lnk" 2>/dev/null | grep -qxF "$instdir\\ferry-desktop.exe" ||
      fail "$mode: no shortcut $lnk to $instdir\\ferry-desktop.exe"
  done
  pass "$mode: Start menu and desktop shortcuts"

  same "$mode: installed ferry.exe --version" "ferry $version" "$(wine "$instdir\\ferry.exe" --version)"

  local -A reg=() want=(
    [DisplayName]=Ferry [DisplayVersion]=$version [Publisher]="Ferry contributors"
    [DisplayIcon]="$instdir\\ferry-desktop.exe" [InstallLocation]=$instdir
    [UninstallString]="\"$instdir\\uninstall.exe\" /$mode"
    [QuietUninstallString]="\"$instdir\\uninstall.exe\" /$mode /S"
  )
  while IFS= read -r line; do
    [[ $line =~ ^\ {4}([^ ]+)\ {4}REG_[A-Z_]+\ {4}(.*)$ ]] && reg[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
  done < <(wine reg query "$key" 2>/dev/null | tr -d '\r')
  for f in "${!want[@]}"; do
    [[ ${reg[$f]-} == "${want[$f]}" ]] || fail "$mode: $key: $f is '${reg[$f]-}', want '${want[$f]}'"
  done
  local kib=$(($(cat "$dir"/* | wc -c) / 1024)) size=$((${reg[EstimatedSize]:-0}))
  ((size > kib - 8 && size < kib + 8)) || fail "$mode: $key: EstimatedSize is $size KiB, want about $kib"
  pass "$mode: uninstall entry $key"

  # The uninstaller copies itself to %TEMP% and runs from there: wait until every Wine process ended.
  local args
  [[ ${reg[QuietUninstallString]} =~ ^\"([^\"]+)\"\ (.+)$ ]]
  read -ra args <<<"${BASH_REMATCH[2]}"
  wine "${BASH_REMATCH[1]}" "${args[@]}" || fail "$mode: ${reg[QuietUninstallString]} exited with $?"
  wineserver -w
  [[ ! -e $dir ]] || fail "$mode: uninstall left $instdir: $(find "$dir" -mindepth 1 -printf '%P ')"
  for lnk in "${links[@]}"; do
    [[ ! -e $lnk ]] || fail "$mode: uninstall left $lnk"
  done
  ! wine reg query "$key" >/dev/null 2>&1 || fail "$mode: uninstall left $key"
  pass "$mode: silent uninstall removes files, shortcuts and entry"
}

install AllUsers HKLM 'C:\Program Files\Ferry' \
  'C:\ProgramData\Microsoft\Windows\Start Menu\Programs' 'C:\users\Public\Desktop'
IFS='|' read -r localappdata appdata profile < <(wine cmd /c 'echo %LOCALAPPDATA%^|%APPDATA%^|%USERPROFILE%' | tr -d '\r')
install CurrentUser HKCU "$localappdata\\Programs\\Ferry" \
  "$appdata\\Microsoft\\Windows\\Start Menu\\Programs" "$profile\\Desktop"

wineserver -w # the registry reaches the disk before the prefix is kept
echo "$stamp" >"$cache/wine.ok"
