#!/usr/bin/env bash
# Runs Ferry's desktop app on a virtual display with session profiles: a profile saved by
# `ferry profile save` opens the Profiles screen at start; Run goes through the inventory and the
# comparison straight to the confirmation, one confirmation mirrors the folder, the notification
# names the profile and the profile records the run; Save as profile on Done saves a second one;
# the tray menu lists both and its Run entry reruns the first up to the confirmation. Screenshots
# of each screen go to OUTDIR.
#
#   build/e2e/profiles.sh BIN OUTDIR
set -euo pipefail
# shellcheck source=build/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

bin=${1:?usage: build/e2e/profiles.sh BIN OUTDIR}
out=${2:?usage: build/e2e/profiles.sh BIN OUTDIR}
e2e_setup "$bin" "$out" "$@"

root=$(cd "$E2E_LIB_DIR/../.." && pwd)
expect() {
  [[ $2 == "$3" ]] || e2e_fail "$1: got '$2', want '$3'"
}

mkdir -p "$E2E_WORK/bin"
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
(cd "$root" && "$GO" build -o "$E2E_WORK/bin/" ./backend/cmd/ferry ./build/e2e/desktop) ||
  e2e_fail "cannot build ferry and build/e2e/desktop"
ferry=$E2E_WORK/bin/ferry desktop=$E2E_WORK/bin/desktop
export FERRY_CONFIG_DIR=$E2E_WORK/config # the app's (e2e_start_app)

src=$E2E_WORK/data/photos dst=$E2E_WORK/backup/photos
mkdir -p "$src/2025" "$dst"
for i in $(seq 1 30); do echo "photo $i" >"$src/2025/IMG_$((1000 + i)).jpg"; done
"$ferry" profile save "Weekly backup" --node "A=$src" --node "B=$dst" --mode mirror >/dev/null ||
  e2e_fail "ferry profile save failed"

e2e_check_notifications
e2e_start_helper tray-host "$desktop" tray-host
e2e_wait_file "$E2E_WORK/tray-host.log" '^watching' 10 || e2e_fail "the tray host did not start"

# --- 1. The Profiles screen at start ----------------------------------------------------------
# shellcheck disable=SC2119 # the app takes no arguments here
e2e_start_app
e2e_wait_file "$E2E_WORK/tray-host.log" '^registered ' 10 || e2e_fail "the app's tray icon did not register"
tray_item=$(sed -n 's/^registered \([^ ]*\) .*/\1/p' "$E2E_WORK/tray-host.log" | head -n 1)
e2e_wait_diag screen '"step":"start","phase":"none"' >/dev/null
e2e_wait_focus '"name":"New synchronization"'
e2e_shot profiles

# --- 2. Run: one click to the confirmation, one confirmation ----------------------------------
e2e_tab_to '"name":"Run Weekly backup"' -8
e2e_key Return
e2e_wait_diag screen '"step":"synchronize"' 60 >/dev/null
plan=$(e2e_wait_diag confirmation . 30)
[[ $plan == *'"copies":30'* ]] || e2e_fail "the plan does not copy the 30 photos: $plan"
e2e_wait_focus '"name":"Start synchronization"'
e2e_shot profile-confirm
e2e_key Return
ended=$(e2e_wait_diag sync-done . 120)
[[ $ended == *'"end":"regular"'* ]] || e2e_fail "the run did not end regularly: $ended"
e2e_wait_diag screen '"step":"done"' >/dev/null
e2e_wait_log 'string "Weekly backup: synchronization finished' 30
cmp -s "$src/2025/IMG_1001.jpg" "$dst/2025/IMG_1001.jpg" || e2e_fail "the photos were not copied"
# The app records the run in the profile once it ended, which may come after the notification.
deadline=$(_e2e_deadline 10)
until "$ferry" profile show "Weekly backup" | grep -q 'Last run: .*done, 31 actions'; do
  (($(_e2e_now_us) < deadline)) || e2e_fail "the profile did not record the run: $("$ferry" profile show "Weekly backup")"
  sleep 0.1
done
e2e_shot profile-done

# --- 3. Save as profile -----------------------------------------------------------------------
e2e_tab_to '"name":"Save as profile…"' -3
e2e_key Return
e2e_wait_focus '"id":"profile-name"'
e2e_key ctrl+a
e2e_type "Photos copy"
e2e_shot save-profile
e2e_key Return
deadline=$(_e2e_deadline 10)
until "$ferry" profile list | grep -q '^Photos copy '; do
  (($(_e2e_now_us) < deadline)) || e2e_fail "Save as profile did not save: $("$ferry" profile list)"
  sleep 0.1
done
dunstctl close-all
e2e_shot profile-saved

# --- 4. The tray's Run entry, then the Profiles screen with the last runs ---------------------
echo "new photo" >"$src/2025/IMG_2000.jpg"
e2e_mark
"$desktop" tray-click "$tray_item" "Run Weekly backup" >/dev/null || e2e_fail "cannot click Run Weekly backup in the tray menu"
e2e_wait_diag screen '"step":"synchronize"' 60 >/dev/null
plan=$(e2e_wait_diag confirmation . 30)
[[ $plan == *'"copies":1'* ]] || e2e_fail "the rerun does not copy the one new photo: $plan"
e2e_wait_focus '"name":"Start synchronization"'
e2e_shot tray-confirm
e2e_key Return
ended=$(e2e_wait_diag sync-done . 120)
[[ $ended == *'"end":"regular"'* ]] || e2e_fail "the rerun did not end regularly: $ended"
cmp -s "$src/2025/IMG_2000.jpg" "$dst/2025/IMG_2000.jpg" || e2e_fail "the new photo was not copied"
e2e_wait_diag screen '"step":"done"' >/dev/null
e2e_tab_to '"name":"Quit session"' -4
e2e_key Return
e2e_wait_diag screen '"step":"start","phase":"none"' >/dev/null
e2e_wait_focus '"name":"New synchronization"'
dunstctl close-all
e2e_shot profiles-after

e2e_finish
