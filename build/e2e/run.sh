#!/usr/bin/env bash
# Runs Ferry's desktop app on a virtual display and drives it by keyboard through a mirror of
# 20,000 files onto a partly different folder, screenshotting every screen into OUTDIR; checks
# that the progress moved, that the target became the source (contents and modification
# times) and that the end was notified; then opens a second session over 100,000 files,
# measures the comparison table (first render, frame times while scrolling by keyboard) into
# OUTDIR/perf.txt, and mirrors them while the window is closed: the run goes on with the app in
# the tray, whose Show brings the window back; last, mirrors an empty folder onto a backup,
# which waits for the deletions past the limit to be confirmed. Exits non-zero, with the logs'
# last lines, when a step fails.
#
#   build/e2e/run.sh BIN OUTDIR
#
# Needs the Debian packages in E2E_DEBS (build/e2e/lib.sh), and Go with cgo and libx11-dev to
# build the helpers build/e2e/folders (test folders) and build/e2e/desktop (tray host, close).
# Environment: E2E_FILES (20000) and E2E_BIG_FILES (100000) size the two runs;
# E2E_MAX_FIRST_RENDER_MS (2000) and E2E_MAX_P95_MS (50) bound the table's figures.
set -euo pipefail
# shellcheck source=build/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

bin=${1:?usage: build/e2e/run.sh BIN OUTDIR}
out=${2:?usage: build/e2e/run.sh BIN OUTDIR}
e2e_setup "$bin" "$out" "$@"

root=$(cd "$E2E_LIB_DIR/../.." && pwd)
files=${E2E_FILES:-20000}
big_files=${E2E_BIG_FILES:-100000}
max_first_render=${E2E_MAX_FIRST_RENDER_MS:-2000}
max_p95=${E2E_MAX_P95_MS:-50}
run_started=$(_e2e_now_us)

# json_num JSON KEY prints the number KEY holds in the flat JSON object JSON.
json_num() {
  sed -nE "s/.*\"$2\":(-?[0-9.]+).*/\1/p" <<<"$1"
}

# json_str JSON KEY prints the string KEY holds in the flat JSON object JSON.
json_str() {
  sed -nE "s/.*\"$2\":\"([^\"]*)\".*/\1/p" <<<"$1"
}

# ms_since T prints the milliseconds from T (microseconds, _e2e_now_us) to now.
ms_since() {
  echo $((($(_e2e_now_us) - $1) / 1000))
}

# expect WHAT GOT WANT fails the run unless GOT equals WANT.
expect() {
  [[ $2 == "$3" ]] || e2e_fail "$1: got '$2', want '$3'"
}

# mirror_to_confirmation goes from the comparison to the confirmation of a mirror: the Rules
# step keeps the mirror preset (chosen in an earlier session) or picks it.
mirror_to_confirmation() {
  e2e_tab_to '"name":"Continue to rules"'
  e2e_key Return
  e2e_wait_diag screen '"step":"rules"' >/dev/null
  e2e_wait_focus '"kind":"input:radio","name":"Mirror'
  if [[ $(e2e_wait_diag rules .) != *'"mode":"mirror"'* ]]; then
    e2e_key space
    e2e_wait_diag rules '"mode":"mirror"' >/dev/null
  fi
  e2e_tab_to '"name":"Continue to synchronize"'
  e2e_key Return
}

# create_session leaves the Start screen with a new session, on its id and password.
create_session() {
  e2e_wait_focus '"name":"Create session"'
  e2e_key Return
  e2e_wait_diag screen '"step":"start","phase":"session"' 30 >/dev/null
  e2e_wait_focus '"name":"Continue"'
}

# declare_data SRC DST goes on from the session to the Data step and fills in its two folders:
# copy from SRC to DST (the mirror preselected). The folder fields start empty, also after an
# earlier session was quit: the focus lands on the first one only when it is empty.
declare_data() {
  e2e_key Return
  e2e_wait_diag screen '"step":"data"' >/dev/null
  e2e_wait_focus '"id":"copy-from"'
  # A loaded machine is slow to take typed text: Tab moves on once it took all of it.
  e2e_type "$1"
  e2e_key Tab
  e2e_wait_focus '"name":"Browse for the folder to copy from"' 60
  e2e_key Tab
  e2e_wait_focus '"id":"copy-to"'
  e2e_type "$2"
  e2e_key Tab
  e2e_wait_focus '"name":"Browse for the folder to copy to"' 60
  e2e_tab_to '"id":"start-inventory"' 4
}

# start_inventory SECONDS presses Start inventory and waits for its end, at most SECONDS; it sets
# inventory to the inventory-done report and inventory_ms to the time it took.
start_inventory() {
  local t
  t=$(_e2e_now_us)
  e2e_key Return
  e2e_wait_diag screen '"step":"inventory"' >/dev/null
  inventory=$(e2e_wait_diag inventory-done . "$1")
  inventory_ms=$(ms_since "$t")
  [[ $(json_str "$inventory" error) == '' ]] || e2e_fail "the inventory failed: $inventory"
  e2e_wait_focus '"name":"Compare"'
}

# --- Test data -------------------------------------------------------------------------------
mkdir -p "$E2E_WORK/bin"
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
(cd "$root" && "$GO" build -o "$E2E_WORK/bin/" ./build/e2e/folders ./build/e2e/desktop) ||
  e2e_fail "cannot build build/e2e/folders and build/e2e/desktop"
folders=$E2E_WORK/bin/folders desktop=$E2E_WORK/bin/desktop

# On the work folder's file system (TMPDIR): Ferry refuses data sources under /dev, so not /dev/shm.
data=$E2E_WORK/mirror big=$E2E_WORK/table
src=$data/source dst=$data/target
made=$("$folders" make -files "$files" -target "$dst" "$src") || e2e_fail "cannot make the test folders"
_e2e_log "$(tr '\n' ';' <<<"$made")"
mirror=$(sed -n 's/^mirror: //p' <<<"$made")
want_copies=$(sed -nE 's/.*copies=([0-9]+).*/\1/p' <<<"$mirror")
want_dates=$(sed -nE 's/.*dates=([0-9]+).*/\1/p' <<<"$mirror")
want_deletes=$(sed -nE 's/.*deletes=([0-9]+).*/\1/p' <<<"$mirror")
dst_files=$(find "$dst" -type f | wc -l)

"$folders" make -files "$big_files" -empty "$big/source" >/dev/null || e2e_fail "cannot make the 100k folder"
mkdir "$big/target"
# Step 10: an empty source folder (an unmounted drive) and a backup of a few files.
unmounted=$E2E_WORK/media/usb-photos backup=$E2E_WORK/backup/photos backup_files=40
mkdir -p "$unmounted"
for ((i = 1; i <= backup_files; i++)); do
  mkdir -p "$backup/$((2020 + i % 4))"
  echo "photo $i" >"$backup/$((2020 + i % 4))/IMG_$((1000 + i)).jpg"
done
_e2e_log "test data in $data and $big ($(df -P "$data" | awk 'NR == 2 { print $1 }'))"

e2e_check_notifications
# A tray host, so that the app shows its tray icon (step 9).
e2e_start_helper tray-host "$desktop" tray-host
e2e_wait_file "$E2E_WORK/tray-host.log" '^watching' 10 || e2e_fail "the tray host did not start"

# --- 1. Start and session --------------------------------------------------------------------
# The session screen shows no id or password for folders on this computer; Continue goes on.
# shellcheck disable=SC2119 # the app takes no arguments here
e2e_start_app
e2e_wait_file "$E2E_WORK/tray-host.log" '^registered ' 10 || e2e_fail "the app's tray icon did not register with the tray host"
tray_item=$(sed -n 's/^registered \([^ ]*\) .*/\1/p' "$E2E_WORK/tray-host.log" | head -n 1)
e2e_wait_diag screen '"step":"start","phase":"none"' >/dev/null
e2e_wait_focus '"name":"Create session"'
e2e_shot start

create_session
e2e_shot session

# --- 2. Data ---------------------------------------------------------------------------------
declare_data "$src" "$dst"
e2e_shot data

# --- 3. Inventory ----------------------------------------------------------------------------
start_inventory 120
mirror_inventory_ms=$inventory_ms
expect "files inventoried" "$(json_num "$inventory" files)" $((files + dst_files))
e2e_shot inventory

# --- 4. Comparison ---------------------------------------------------------------------------
e2e_key Return
e2e_wait_diag screen '"step":"comparison"' >/dev/null
e2e_wait_diag comparison-first-render . 30 >/dev/null
e2e_wait_focus '"id":"filter"'
e2e_shot comparison

e2e_type 'is:file name:f00000*'
e2e_key Return # applies the filter at once, then goes to the results
e2e_wait_focus '"kind":"grid"'
e2e_shot filter

# --- 5. Rules --------------------------------------------------------------------------------
e2e_tab_to '"name":"Continue to rules"'
e2e_key Return
e2e_wait_diag screen '"step":"rules"' >/dev/null
# The mirror chosen on the Data step is in force, its radio checked and focused.
rules_state=$(e2e_wait_diag rules .)
[[ $rules_state == *'"mode":"mirror"'* ]] || e2e_fail "the Rules step opened without the mirror chosen on Data: $rules_state"
e2e_wait_focus '"kind":"input:radio","name":"Mirror'
e2e_shot rules

# --- 6. Synchronize --------------------------------------------------------------------------
e2e_tab_to '"name":"Continue to synchronize"'
e2e_key Return
e2e_wait_diag screen '"step":"synchronize"' >/dev/null
plan=$(e2e_wait_diag confirmation . 30)
expect "planned copies" "$(json_num "$plan" copies)" "$want_copies"
expect "planned date fixes" "$(json_num "$plan" dates)" "$want_dates"
expect "planned deletes" "$(json_num "$plan" deletes)" "$want_deletes"
expect "refused actions" "$(json_num "$plan" refused)" 0
actions=$(json_num "$plan" actions)
e2e_wait_focus '"name":"Start synchronization"'
e2e_shot confirm

# finished_now prints the last finished count reported by sync-progress since the mark.
finished_now() {
  json_num "$(e2e_diag_all sync-progress | tail -n 1)" finished
}

# Two screenshots while it runs, each after the progress moved.
e2e_key Return
e2e_wait_diag sync-progress '"finished":[1-9]' 60 >/dev/null
e2e_snap synchronizing-1
shot1=$E2E_LAST_SHOT
seen=$(finished_now)
deadline=$(_e2e_deadline 60)
# A second one once it moved again, unless the run ended first (a fast machine copies the 20,000
# files in under two seconds): the progress check below reads the events, not the pictures.
shot2=""
until (($(finished_now) > seen)) || [[ -n $(e2e_diag_all sync-done) ]]; do
  _e2e_check_app
  (($(_e2e_now_us) < deadline)) || e2e_fail "the progress stayed at $seen of $actions for 60s"
  sleep 0.05
done
if [[ -z $(e2e_diag_all sync-done) ]]; then
  e2e_snap synchronizing-2
  shot2=$E2E_LAST_SHOT
else
  E2E_SHOTS=$((E2E_SHOTS + 1)) # the next screenshots keep their numbers
  _e2e_log "the run ended before a second screenshot of it (kept the previous synchronizing-2)"
fi

ended=$(e2e_wait_diag sync-done . 300)
expect "end" "$(json_str "$ended" end)" regular
expect "failed actions" "$(json_num "$ended" errors)" 0
expect "finished actions" "$(json_num "$ended" finished)" "$actions"
sync_ms=$(json_num "$ended" ms)
# The progress shown before the end: several distinct values between none and all, and the
# screen changed.
distinct=$(e2e_diag_all sync-progress | sed -nE 's/.*"finished":([0-9]+).*/\1/p' |
  awk -v all="$actions" '$1 > 0 && $1 < all' | sort -un | wc -l)
((distinct >= 3)) || e2e_fail "the progress showed only $distinct distinct values between 0 and $actions"
[[ -n $shot2 ]] && cmp -s "$shot1" "$shot2" && e2e_fail "the two screenshots of the running synchronization are the same"

# --- 7. Done ---------------------------------------------------------------------------------
e2e_wait_diag screen '"step":"done"' >/dev/null
e2e_wait_log 'string "Synchronization finished' 30
e2e_shot 'done'
"$folders" same "$src" "$dst" || e2e_fail "the target is not a mirror of the source"
body=$(e2e_notifications | grep -A1 -x 'Synchronization finished' | tail -n 1)
actions_text=$(sed -E ':a; s/([0-9])([0-9]{3})($|,)/\1,\2\3/; ta' <<<"$actions") # 19,556
[[ $body == "$actions_text of $actions_text actions"* ]] ||
  e2e_fail "the notification says '$body', not '$actions_text of $actions_text actions…'"
_e2e_log "notified: Synchronization finished: $body"
dunstctl close-all

# --- 8. A second session: the comparison table at 100,000 items ------------------------------
e2e_wait_focus '"name":"New synchronization"'
e2e_tab_to '"name":"Quit session"' -5
e2e_key Return
e2e_wait_diag screen '"step":"start","phase":"none"' 30 >/dev/null
create_session
declare_data "$big/source" "$big/target"
start_inventory 180
big_inventory_ms=$inventory_ms
expect "files inventoried" "$(json_num "$inventory" files)" "$big_files"

e2e_key Return
e2e_wait_diag screen '"step":"comparison"' >/dev/null
first=$(e2e_wait_diag comparison-first-render . 60)
first_ms=$(json_num "$first" ms)
big_total=$(json_num "$first" total)
((big_total >= big_files)) || e2e_fail "the comparison holds $big_total items, not $big_files or more"
e2e_wait_focus '"id":"filter"'
e2e_shot comparison-100k

# Scroll by keyboard as a user holding keys would: Page Down, End, Home, then Down row by row.
# Tab then leaves the table, which ends the measurement: its report ("end":"leave") comes after
# every other one of these keys.
e2e_key Return
e2e_wait_focus '"kind":"grid"'
keys=()
for ((i = 0; i < 60; i++)); do keys+=(Next); done
keys+=(End Home)
for ((i = 0; i < 40; i++)); do keys+=(Down); done
e2e_mark
xdotool key --delay 30 -- "${keys[@]}" Tab
e2e_wait_diag comparison-scroll '"end":"leave"' 60 >/dev/null
e2e_wait_focus '"name":"Add action'
scroll=$(e2e_diag_all comparison-scroll)
e2e_key shift+Tab
e2e_wait_focus '"kind":"grid"'
e2e_shot comparison-100k-scrolled

# Several reports when the scrolling paused: p50 and p95 are bounded by the largest of theirs.
stats=$(sed -nE 's/.*"p50":([0-9.]+),"p95":([0-9.]+),"max":([0-9.]+),"count":([0-9]+).*/\1 \2 \3 \4/p' <<<"$scroll" |
  awk '$4 > 0 { n++; f += $4; if ($1 > p50) p50 = $1; if ($2 > p95) p95 = $2; if ($3 > mx) mx = $3 }
       END { printf "%s %s %s %d %d", p50 + 0, p95 + 0, mx + 0, f, n }')
read -r p50 p95 fmax frames reports <<<"$stats"
((frames >= 20)) || e2e_fail "only $frames frames were timed while scrolling the table: $scroll"

# --- 9. Closing the window during a run keeps the run going, with the app in the tray ---------
mirror_to_confirmation
big_plan=$(e2e_wait_diag confirmation . 60)
expect "planned copies" "$(json_num "$big_plan" copies)" "$big_files"
big_actions=$(json_num "$big_plan" actions)
e2e_wait_focus '"name":"Start synchronization"'
notified=$(grep -c '^   string "Synchronization finished' "$E2E_NOTIFY_LOG" || true)
t=$(_e2e_now_us)
e2e_key Return
e2e_wait_diag sync-progress '"finished":[1-9]' 60 >/dev/null
"$desktop" close "$E2E_WID" || e2e_fail "cannot close the window"
e2e_wait_window hidden 10
[[ -z $(e2e_diag_all sync-done) ]] || e2e_fail "the synchronization ended before the window was closed: its run is too short"
_e2e_log "the window closed during the synchronization and is hidden; the app runs on"
deadline=$(_e2e_deadline 300)
until (($(grep -c '^   string "Synchronization finished' "$E2E_NOTIFY_LOG" || true) > notified)); do
  _e2e_check_app
  (($(_e2e_now_us) < deadline)) || e2e_fail "the synchronization behind the hidden window did not end within 300s"
  sleep 0.1
done
big_sync_ms=$(ms_since "$t")
e2e_wait_window hidden 1 # still hidden at the end of the run
"$desktop" tray-click "$tray_item" "Show Ferry" >/dev/null || e2e_fail "cannot click Show Ferry in the tray menu"
e2e_wait_window shown 10
e2e_focus
big_end=$(e2e_wait_diag sync-done . 30)
expect "end" "$(json_str "$big_end" end)" regular
expect "finished actions" "$(json_num "$big_end" finished)" "$big_actions"
e2e_wait_diag screen '"step":"done"' >/dev/null
dunstctl close-all # the shown window now covers the notification: off the screenshot
e2e_shot done-from-tray
"$folders" same "$big/source" "$big/target" || e2e_fail "the 100k target is not a mirror of its source"

# --- 10. A mirror from an empty folder (an unmounted drive) asks before it deletes ------------
# The source folder is empty and the target holds files: the mirror deletes all of them, past
# the deletion limit. The confirmation warns with the focus on its box, not on Start; Enter
# there starts nothing, and Tab passes over the disabled Start until the box is ticked. Then the
# run empties the target.
e2e_wait_focus '"name":"New synchronization"'
e2e_tab_to '"name":"Quit session"' -5
e2e_key Return
e2e_wait_diag screen '"step":"start","phase":"none"' 30 >/dev/null
create_session
declare_data "$unmounted" "$backup"
start_inventory 60
expect "files inventoried" "$(json_num "$inventory" files)" "$backup_files"
e2e_key Return
e2e_wait_diag screen '"step":"comparison"' >/dev/null
e2e_wait_focus '"id":"filter"'
mirror_to_confirmation
empty_plan=$(e2e_wait_diag confirmation . 30)
[[ $empty_plan == *'"overLimit":true'* ]] || e2e_fail "the mirror of an empty folder is not past the deletion limit: $empty_plan"
expect "files past the deletion limit" "$(json_num "$empty_plan" overFiles)" "$backup_files"
confirm_box="\"kind\":\"input:checkbox\",\"name\":\"Yes, delete these $backup_files files\""
e2e_wait_focus "$confirm_box"
e2e_key Return
sleep 1
[[ -z $(e2e_diag_all sync-progress) && $(e2e_diag_all screen) != *syncing* ]] ||
  e2e_fail "Enter on the unticked box started the run"
e2e_tab_to '"name":"Back to rules"' 3 # past the hint's Settings… button and the hidden files' box
e2e_key Tab
sleep 0.5
[[ $(e2e_diag_all focus | tail -n 1) != *'Start synchronization'* ]] || e2e_fail "Start took the focus before the deletions were confirmed"
e2e_tab_to "$confirm_box" -6
expect "files on the target before the confirmation" "$(find "$backup" -type f | wc -l)" "$backup_files"
e2e_shot delete-warning
e2e_key space
e2e_tab_to '"name":"Start synchronization"' 5
notified=$(grep -c '^   string "Synchronization finished' "$E2E_NOTIFY_LOG" || true)
e2e_key Return
empty_end=$(e2e_wait_diag sync-done . 60)
expect "end" "$(json_str "$empty_end" end)" regular
expect "files left on the target" "$(find "$backup" -type f | wc -l)" 0
e2e_wait_diag screen '"step":"done"' >/dev/null
deadline=$(_e2e_deadline 30)
until (($(grep -c '^   string "Synchronization finished' "$E2E_NOTIFY_LOG" || true) > notified)); do
  (($(_e2e_now_us) < deadline)) || e2e_fail "no notification of the end of the mirror from an empty folder"
  sleep 0.1
done
dunstctl close-all

# --- 11. Quit session then Create starts empty; Ctrl+Q quits --------------------------------
# declare_data above found empty folder fields twice after Quit session. Here, once more, on the
# Data step of a new session: its folders are empty and no rules are in force.
e2e_wait_focus '"name":"New synchronization"'
e2e_tab_to '"name":"Quit session"' -5
e2e_key Return
e2e_wait_diag screen '"step":"start","phase":"none"' 30 >/dev/null
create_session
e2e_key Return
e2e_wait_diag screen '"step":"data"' >/dev/null
e2e_wait_focus '"id":"copy-from"'
e2e_shot data-after-quit
e2e_key ctrl+q
e2e_wait_exit 30

# --- Figures ---------------------------------------------------------------------------------
total_s=$(($(ms_since "$run_started") / 1000))
summary=$(
  cat <<EOF
Ferry end-to-end figures ($(date -u +%FT%TZ), data on $(df -P "$data" | awk 'NR == 2 { print $1 }'))
mirror of $files files: inventory $mirror_inventory_ms ms; synchronization of $actions actions: $sync_ms ms ($distinct progress values shown)
comparison table, $big_total items (inventory $big_inventory_ms ms):
first render: $first_ms ms; scroll frames: p50 $p50 ms, p95 $p95 ms, max $fmax ms over $frames frames ($reports report(s))
mirror of $big_files empty files, window closed to the tray meanwhile: $big_actions actions in about $big_sync_ms ms
mirror of an empty folder onto $backup_files files: past the deletion limit, ran once the deletions were confirmed
bounds: first render <= $max_first_render ms, p95 <= $max_p95 ms; whole run ${total_s} s
EOF
)
echo "$summary" >"$E2E_OUT/perf.txt"
echo "----------------------------------------------------------------------"
echo "$summary"
echo "----------------------------------------------------------------------"
awk -v v="$first_ms" -v m="$max_first_render" 'BEGIN { exit !(v <= m) }' ||
  e2e_fail "the first render of the 100k table took $first_ms ms (bound $max_first_render ms)"
awk -v v="$p95" -v m="$max_p95" 'BEGIN { exit !(v <= m) }' ||
  e2e_fail "scrolling the 100k table: p95 frame time $p95 ms (bound $max_p95 ms)"

e2e_finish
