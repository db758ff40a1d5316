#!/usr/bin/env bash
# Checks Ferry's Linux packages as a user meets them: lintian, rpm and AppStream checks, then a
# clean Debian 12 root (debootstrap, cached) where `apt-get install ./ferry_….deb` pulls the
# declared dependencies, and ferry, ferry-desktop and ferry-server run from the installed paths.
#
#   build/package/test-linux.sh DIST [SCREENSHOT_DIR]
#
# Runs as root (chroot, mount). FERRY_PACKAGE_TEST_REFRESH=1 rebuilds the cached root.
set -euo pipefail

shots=$(realpath -m "${2:-$(dirname "$0")/../out/screenshots}")
source "$(dirname "$0")/lib.sh"
app_id=io.github.ferrysync.Ferry
deb=$dist/ferry_${version}_amd64.deb
server_deb=$dist/ferry-server_${version}_amd64.deb
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ferry-package-test
base=$cache/bookworm-minbase.tar
mirror=${FERRY_DEBIAN_MIRROR:-http://deb.debian.org/debian}

((EUID == 0)) || { echo "package-test: run as root (chroot)" >&2; exit 1; }
work=$(mktemp -d /tmp/ferry-package-test.XXXXXX)
mounted=() server_pid=''
cleanup() {
  local rc=$? m
  set +e
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  for m in "${mounted[@]}"; do umount -R -l "$m" 2>/dev/null; done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

pass() { printf 'PASS %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*" >&2; exit 1; }

for f in "$deb" "$server_deb" "$dist/ferry-$version.x86_64.rpm" "$dist/ferry-server-$version.x86_64.rpm"; do
  [[ -s $f ]] || fail "missing $f (run make package)"
done

# --- The package files themselves -----------------------------------------------------------

lintian --fail-on error --no-tag-display-limit "$deb" "$server_deb" >"$work/lintian.txt" 2>&1 ||
  { cat "$work/lintian.txt" >&2; fail "lintian reports errors"; }
pass "lintian: no errors ($(grep -c '^W:' "$work/lintian.txt" || true) warnings, $(grep -c '^I:' "$work/lintian.txt" || true) infos)"

rpm_files=$(rpm -qpl "$dist/ferry-$version.x86_64.rpm" 2>/dev/null)
for f in /usr/bin/ferry /usr/bin/ferry-desktop /usr/share/applications/$app_id.desktop \
  /usr/share/metainfo/$app_id.metainfo.xml /usr/share/icons/hicolor/512x512/apps/$app_id.png \
  /usr/share/man/man1/ferry.1.gz; do
  grep -qx "$f" <<<"$rpm_files" || fail "rpm -qpl ferry: $f missing"
done
rpm -qpR "$dist/ferry-$version.x86_64.rpm" 2>/dev/null | grep -q '^webkit2gtk4.1' || fail "rpm: no webkit2gtk4.1 requirement"
grep -qx /usr/lib/systemd/system/ferry-server.service <<<"$(rpm -qpl "$dist/ferry-server-$version.x86_64.rpm" 2>/dev/null)" ||
  fail "rpm -qpl ferry-server: no unit"
pass "rpm -qpl: $(wc -l <<<"$rpm_files") files in ferry, the unit in ferry-server"

dpkg-deb -x "$deb" "$work/deb"
appstreamcli validate --no-net "$work/deb/usr/share/metainfo/$app_id.metainfo.xml" >"$work/appstream.txt" 2>&1 ||
  { cat "$work/appstream.txt" >&2; fail "appstreamcli validate"; }
desktop-file-validate "$work/deb/usr/share/applications/$app_id.desktop" || fail "desktop-file-validate"
for size in 16x16 32x32 48x48 128x128 256x256 512x512 scalable; do
  compgen -G "$work/deb/usr/share/icons/hicolor/$size/apps/$app_id.*" >/dev/null || fail "no $size icon"
done
pass "AppStream metadata valid, desktop entry valid, icons 16…512 and scalable"

# --- A clean Debian 12 root ------------------------------------------------------------------

if [[ ! -s $base || -n ${FERRY_PACKAGE_TEST_REFRESH:-} ]]; then
  echo "package-test: debootstrap bookworm (minbase) from $mirror, cached in $base"
  mkdir -p "$cache"
  debootstrap --variant=minbase bookworm "$work/bootstrap" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
  tar -C "$work/bootstrap" -cf "$base.tmp" .
  mv "$base.tmp" "$base"
  rm -rf "$work/bootstrap"
fi

# new_root DIR: a fresh copy of the cached root, with the host's package sources.
new_root() {
  local r=$1
  mkdir -p "$r"
  tar -C "$r" -xf "$base"
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null || [[ -s /etc/apt/sources.list ]]; then
    rm -f "$r/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/*.sources "$r/etc/apt/sources.list.d/" 2>/dev/null || true
    [[ -s /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$r/etc/apt/"
  fi
  # Mirrors may serve snapshots whose Release files are past their Valid-Until.
  printf 'Acquire::Check-Valid-Until "false";\nAcquire::Check-Date "false";\n' >"$r/etc/apt/apt.conf.d/99ferry-test"
  mount -t proc proc "$r/proc" && mounted+=("$r/proc")
  mount --rbind /sys "$r/sys" && mount --make-rslave "$r/sys" && mounted+=("$r/sys")
  mount --rbind /dev "$r/dev" && mount --make-rslave "$r/dev" && mounted+=("$r/dev")
  # Downloaded packages are kept between runs.
  mkdir -p "$cache/apt-archives/partial"
  mount --bind "$cache/apt-archives" "$r/var/cache/apt/archives" && mounted+=("$r/var/cache/apt/archives")
  mkdir -p "$r/tmp/pkgs"
  cp "$deb" "$server_deb" "$r/tmp/pkgs/"
  chroot "$r" apt-get -q update >"$work/apt-update.log" 2>&1 || { cat "$work/apt-update.log" >&2; fail "apt-get update in the root"; }
}
in_root() { chroot "$root" env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

root=$work/root
new_root "$root"
before=$(chroot "$root" dpkg-query -W -f '${Package}\n' | sort)
start=$(date +%s%N)
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "./tmp/pkgs/$(basename "$deb")" \
  >"$work/install.log" 2>&1 || { tail -30 "$work/install.log" >&2; fail "apt-get install ./$(basename "$deb")"; }
install_ms=$((($(date +%s%N) - start) / 1000000))
install_s=$((install_ms / 1000)).$(printf '%03d' $((install_ms % 1000)))
added=$(comm -13 <(echo "$before") <(chroot "$root" dpkg-query -W -f '${Package}\n' | sort))
dev=$(grep -E -- '-dev(:|$)' <<<"$added" || true)
[[ -z $dev ]] || fail "installing ferry pulled -dev packages: $(echo $dev)"
pass "apt-get install ./$(basename "$deb") in a clean Debian 12 root: $(wc -l <<<"$added") packages, $install_s s, no -dev package"

got=$(in_root ferry --version)
[[ $got == "ferry $version" ]] || fail "ferry --version: got '$got', want 'ferry $version'"
pass "ferry --version: $got"

# A real mirror of a small tree, from the installed command.
in_root sh -euc '
  mkdir -p /tmp/src/docs/deep /tmp/dst
  for i in 1 2 3 4 5; do echo "file $i" >/tmp/src/docs/f$i.txt; done
  head -c 300000 /dev/urandom >/tmp/src/docs/deep/blob.bin
  echo stale >/tmp/dst/stale.txt
  touch -d "2024-01-02 03:04:05" /tmp/src/docs/f1.txt'
in_root ferry sync --node A=/tmp/src --node B=/tmp/dst --mode mirror --yes >"$work/sync.log" 2>&1 ||
  { cat "$work/sync.log" >&2; fail "ferry sync in the root"; }
in_root diff -r /tmp/src /tmp/dst >/dev/null || fail "ferry sync: /tmp/dst differs from /tmp/src"
[[ $(in_root stat -c %Y /tmp/dst/docs/f1.txt) == $(in_root stat -c %Y /tmp/src/docs/f1.txt) ]] ||
  fail "ferry sync: modification time not kept"
pass "ferry sync --mode mirror: target equals source (7 entries, stale file deleted, mtime kept)"

exec_line=$(sed -n 's/^Exec=//p' "$root/usr/share/applications/$app_id.desktop")
exec_bin=${exec_line%% *}
resolved=$(in_root sh -c "command -v '$exec_bin'") || fail "desktop entry Exec=$exec_line does not resolve"
[[ $resolved == /usr/bin/ferry-desktop ]] || fail "desktop entry Exec resolves to $resolved"
pass "desktop entry Exec=$exec_line resolves to $resolved"

# The installed app, started in the root, on a virtual display of the host.
cat >"$work/ferry-desktop" <<SH
#!/bin/sh
exec chroot "$root" /usr/bin/ferry-desktop
SH
chmod +x "$work/ferry-desktop"
mkdir -p "$shots"
build/e2e/skeleton.sh "$work/ferry-desktop" "$shots/package-desktop.png" "$shots/package-about.png" || fail "ferry-desktop from the package showed no window"
pass "ferry-desktop from /usr/bin showed its window 'Ferry' and its About (screenshots $shots/package-{desktop,about}.png)"

# --- ferry-server, in a root of its own ------------------------------------------------------

root=$work/server-root
new_root "$root"
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "./tmp/pkgs/$(basename "$server_deb")" \
  >"$work/server-install.log" 2>&1 || { tail -30 "$work/server-install.log" >&2; fail "apt-get install ./$(basename "$server_deb")"; }
in_root getent passwd ferry-server >/dev/null || fail "no ferry-server user"
[[ $(in_root getent passwd ferry-server | cut -d: -f3) -lt 1000 ]] || fail "ferry-server is not a system user"
[[ -L $root/etc/systemd/system/multi-user.target.wants/ferry-server.service ]] || fail "ferry-server.service not enabled"
pass "ferry-server installed: system user, unit enabled (not started: no systemd runs in the root)"

in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd >"$work/systemd.log" 2>&1 ||
  { tail -20 "$work/systemd.log" >&2; fail "apt-get install systemd"; }
[[ -s $root/usr/share/man/man1/ferry-server.1.gz ]] || fail "the unit's Documentation, man:ferry-server(1), is not installed"
in_root systemd-analyze verify --man=no /usr/lib/systemd/system/ferry-server.service >"$work/verify.log" 2>&1 ||
  { cat "$work/verify.log" >&2; fail "systemd-analyze verify ferry-server.service"; }
[[ ! -s $work/verify.log ]] || { cat "$work/verify.log" >&2; fail "systemd-analyze verify printed warnings"; }
exposure=$(in_root systemd-analyze security --offline=true /usr/lib/systemd/system/ferry-server.service 2>/dev/null |
  sed -n 's/.*Overall exposure level for ferry-server.service: //p')
pass "systemd-analyze verify: clean; exposure ${exposure:-n/a}"

# The service's command, as the service's user, with the packaged settings: the secret appears.
install -d -o ferry-server -g ferry-server -m 0700 "$root/var/lib/ferry-server" 2>/dev/null ||
  chroot "$root" install -d -o ferry-server -g ferry-server -m 0700 /var/lib/ferry-server
exec_start=$(sed -n 's/^ExecStart=//p' "$root/usr/lib/systemd/system/ferry-server.service")
chroot --userspec=ferry-server:ferry-server "$root" env -i PATH=/usr/bin:/bin HOME=/var/lib/ferry-server \
  $exec_start --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/^ferry server listening on //p' "$work/server.out")
  [[ -n $url ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err" >&2; fail "ferry server exited"; }
  sleep 0.1
done
[[ -n $url ]] || fail "ferry server did not listen"
# A malformed login is refused with a JSON error: the API answers.
code=$(curl -sS -o "$work/answer.json" -w '%{http_code}' -X POST -d '{}' "$url/api/v1/auth/challenge") || true
[[ $code == 400 ]] && grep -q '"code":"bad_request"' "$work/answer.json" || fail "server at $url answered $code: $(cat "$work/answer.json")"
kill -TERM "$server_pid" && wait "$server_pid" || fail "server did not stop cleanly on SIGTERM"
server_pid=''

mode=$(in_root stat -c '%a %U' /var/lib/ferry-server/secret 2>&1) || true
[[ $mode == "600 ferry-server" ]] || fail "secret: $mode, want 600 ferry-server"
pass "ferry-server's ExecStart as its user: listens, secret generated with mode 600, stops on SIGTERM"

echo "package-test: Linux packages OK (install of ferry in the clean root: ${install_s} s)"
