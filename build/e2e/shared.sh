#!/usr/bin/env bash
# Runs Ferry's desktop app on a virtual display with a profile shared with another computer (the
# member helper stands in for it, on a ferry server on loopback): Run creates a session and
# waits for the other member (Cancel removes the invitation and quits it); when the other
# member runs the profile, the Profiles screen says it is waiting, with Join. Screenshots of
# both go to OUTDIR.
#
#   build/e2e/shared.sh BIN OUTDIR
set -euo pipefail
# shellcheck source=build/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

bin=${1:?usage: build/e2e/shared.sh BIN OUTDIR}
out=${2:?usage: build/e2e/shared.sh BIN OUTDIR}
e2e_setup "$bin" "$out" "$@"

root=$(cd "$E2E_LIB_DIR/../.." && pwd)
mkdir -p "$E2E_WORK/bin"
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
(cd "$root" && "$GO" build -o "$E2E_WORK/bin/" ./backend/cmd/ferry ./build/e2e/member) ||
  e2e_fail "cannot build ferry and build/e2e/member"
ferry=$E2E_WORK/bin/ferry member=$E2E_WORK/bin/member

e2e_start_helper server "$ferry" server --listen 127.0.0.1:0
e2e_wait_file "$E2E_WORK/server.log" 'listening on http://' 20 || e2e_fail "the ferry server did not start"
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$E2E_WORK/server.log" | head -n 1)

# This computer (the app's configuration) and the other one share "Weekly backup".
mine=$E2E_WORK/data/photos other=$E2E_WORK/other/photos
mkdir -p "$mine" "$other" "$E2E_WORK/config"
for i in $(seq 1 5); do echo "photo $i" >"$mine/IMG_$((1000 + i)).jpg"; done
"$member" pair "$E2E_WORK/config" laptop-b "$mine" "$E2E_WORK/other-config" laptop-a "$other" "$url" "Weekly backup" ||
  e2e_fail "member pair failed"

# --- 1. Run: the session waits for laptop-a; Cancel ------------------------------------------
# shellcheck disable=SC2119 # the app takes no arguments here
e2e_start_app
e2e_wait_diag screen '"step":"start","phase":"none"' >/dev/null
e2e_wait_focus '"name":"New synchronization"'
e2e_shot shared-profiles
e2e_tab_to '"name":"Run Weekly backup"' -8
e2e_key Return
e2e_wait_diag waiting '"profile":"Weekly backup","missing":1' 60 >/dev/null
e2e_settle 2 || true # the waiting dot pulses
e2e_snap shared-waiting
e2e_tab_to '"name":"Cancel"' 6
e2e_key Return
e2e_wait_diag screen '"phase":"none"' 30 >/dev/null
e2e_key ctrl+q
# shellcheck disable=SC2119 # the default wait
e2e_wait_exit

# --- 2. laptop-a runs it: the Profiles screen says it waits, with Join ------------------------
e2e_start_helper host "$member" host "$E2E_WORK/other-config" "$url" "Weekly backup"
e2e_wait_file "$E2E_WORK/host.log" '^invited ' 30 || e2e_fail "the other member did not invite"
# shellcheck disable=SC2119 # the app takes no arguments here
e2e_start_app
e2e_wait_diag invitations 'Weekly backup' 30 >/dev/null
e2e_shot shared-invited

e2e_finish
