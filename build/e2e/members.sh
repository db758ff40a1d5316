#!/usr/bin/env bash
# Runs two of Ferry's desktop apps, two computers of one session, each on its own virtual
# display with its own configuration folder (identity key, trust store, settings), both on one
# `ferry server` on loopback. App one creates the session and shows its id and password, which
# app two copies from its clipboard into the join form; both show the safety-words dialog, the
# same twelve words, and trust. Each brings one folder on the Data step (app one sees app two's
# by name as soon as it is added), app one inventories, compares and mirrors its folder onto app two's, app two runs
# its part, and both end on the summary with a desktop notification. Checks that the target
# became the source (contents and modification times) and screenshots each new screen into
# OUTDIR.
#
#   build/e2e/members.sh BIN OUTDIR
#
# The safety words are compared on the screenshots of the two dialogs, without OCR: the rows of
# pixels of the words and the lines around them are the same in both (see same_rows).
# Environment: E2E_MEMBER_FILES (300) sizes the folders; E2E_TOOLS names a folder holding ferry
# and build/e2e/folders built already (else they are built).
set -euo pipefail
# shellcheck source=build/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

bin=${1:?usage: build/e2e/members.sh BIN OUTDIR}
out=${2:?usage: build/e2e/members.sh BIN OUTDIR}
e2e_setup "$bin" "$out" "$@"

root=$(cd "$E2E_LIB_DIR/../.." && pwd)
files=${E2E_MEMBER_FILES:-300}

expect() {
  [[ $2 == "$3" ]] || e2e_fail "$1: got '$2', want '$3'"
}

# json_str JSON KEY prints the string KEY holds in the flat JSON object JSON.
json_str() {
  sed -nE "s/.*\"$2\":\"([^\"]*)\".*/\1/p" <<<"$1"
}

# json_num JSON KEY prints the number KEY holds in the flat JSON object JSON.
json_num() {
  sed -nE "s/.*\"$2\":(-?[0-9.]+).*/\1/p" <<<"$1"
}

# copied WHAT prints what app one's Copy button for WHAT ("session id", "password") put on
# its display's clipboard.
copied() {
  local text='' deadline
  e2e_tab_to "\"name\":\"Copy $1\"" 8
  e2e_key Return
  deadline=$(_e2e_deadline 10)
  until [[ -n $text ]]; do
    text=$(xclip -o -selection clipboard 2>/dev/null || true)
    (($(_e2e_now_us) < deadline)) || e2e_fail "Copy $1 put nothing on the clipboard"
    sleep 0.1
  done
  # The clipboard keeps the id when the password's Copy is slow: wait for a change.
  [[ $1 == "session id" || $text != "$session_id" ]] || {
    until [[ $text != "$session_id" ]]; do
      (($(_e2e_now_us) < deadline)) || e2e_fail "Copy $1 left the session id on the clipboard"
      sleep 0.1
      text=$(xclip -o -selection clipboard 2>/dev/null || true)
    done
  }
  echo "$text"
}

# same_rows PNG1 PNG2 X W prints how many rows of pixels with a drawing on them (not of one
# colour) the longest run of consecutive rows that the two screenshots share holds, in the
# band of each from X, W wide: the words and the lines around them, when the words are the
# same. A run may be at different heights in the two: the texts above the words differ.
same_rows() {
  local png
  for png in "$1" "$2"; do
    # Per row of the band: its number of colours and the signature of its pixels.
    convert "$png" -crop "${4}x100000+${3}+0" +repage -crop "${4}x1" -format '%k %#\n' info:
    echo end
  done | awk 'BEGIN { f = 0 }
    $1 == "end" { f++; next }
    { drawn[f, n[f]] = $1 > 1; r[f, n[f]++] = $2 }
    END {
      # Longest common run of rows, scored by its rows with a drawing.
      for (i = 0; i < n[0]; i++) {
        for (j = 0; j < n[1]; j++) {
          if (r[0, i] != r[1, j]) { cur[j] = -1; continue }
          cur[j] = (j > 0 && prev[j - 1] >= 0 ? prev[j - 1] : 0) + drawn[0, i]
          if (cur[j] > best) best = cur[j]
        }
        for (j = 0; j < n[1]; j++) prev[j] = cur[j]
      }
      print best + 0
    }'
}

# computers_card prints a hash of the pixels of the Data step's Computers card, on the right of
# the window between the steps and the action bar.
computers_card() {
  # shellcheck disable=SC2034 # set by the eval; only X, Y, WIDTH and HEIGHT are used
  local WINDOW X Y WIDTH HEIGHT SCREEN
  eval "$(xdotool getwindowgeometry --shell "$E2E_WID")"
  import -silent -window root -crop "$((WIDTH / 4))x$((HEIGHT - 150))+$((X + WIDTH * 3 / 4))+$((Y + 80))" \
    -depth 8 rgb:- 2>/dev/null | md5sum | cut -d' ' -f1
}

# --- The server, the folders, the two computers' settings -------------------------------------
# E2E_TOOLS: a folder where ferry and folders were built already.
tools=${E2E_TOOLS:-$E2E_WORK/bin}
if [[ -z ${E2E_TOOLS:-} ]]; then
  mkdir -p "$tools"
  GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
  (cd "$root" && "$GO" build -o "$tools/" ./backend/cmd/ferry ./build/e2e/folders) ||
    e2e_fail "cannot build ferry and build/e2e/folders"
fi
ferry=$tools/ferry folders=$tools/folders

# One line per request (--log-level debug): the run waits for app two's folder to reach it.
e2e_start_helper server "$ferry" server --listen 127.0.0.1:0 --log-level debug
e2e_wait_file "$E2E_WORK/server.log" '^ferry server listening on http://' 10 || e2e_fail "ferry server did not start"
server=$(sed -n 's/^ferry server listening on \(http:[^ ]*\).*/\1/p' "$E2E_WORK/server.log" | head -n 1)
_e2e_log "ferry server on $server"

src=$E2E_WORK/one/photos dst=$E2E_WORK/two/photos-backup
made=$("$folders" make -files "$files" -target "$dst" "$src") || e2e_fail "cannot make the test folders"
_e2e_log "$(tr '\n' ';' <<<"$made")"
mirror=$(sed -n 's/^mirror: //p' <<<"$made")
want_copies=$(sed -nE 's/.*copies=([0-9]+).*/\1/p' <<<"$mirror")
want_deletes=$(sed -nE 's/.*deletes=([0-9]+).*/\1/p' <<<"$mirror")
# App two checks the plan against its own deletion limit (half of its files) and refuses a plan
# past it: 40 more files the same on both sides keep the mirror's deletions under it.
same_added=0
while read -r f; do
  rel=${f#"$src"/}
  [[ -e $dst/$rel ]] && continue
  mkdir -p "$(dirname "$dst/$rel")"
  cp -p "$f" "$dst/$rel"
  same_added=$((same_added + 1))
  ((same_added < 40)) || break
done < <(find "$src" -type f | sort)
want_copies=$((want_copies - same_added))

for app in one two; do
  mkdir -p "$E2E_WORK/config-$app"
  printf '{"serverURL": "%s"}\n' "$server" >"$E2E_WORK/config-$app/settings.json"
done

e2e_check_notifications

# --- 1. App one creates the session and shows its id and password -----------------------------
e2e_app one
# shellcheck disable=SC2119 # the app takes no arguments here
e2e_start_app
e2e_wait_diag screen '"step":"start","phase":"none"' >/dev/null
e2e_wait_focus '"name":"Create session"'
e2e_key Return
e2e_wait_diag screen '"step":"start","phase":"session"' 30 >/dev/null
e2e_wait_focus '"name":"Continue"'
e2e_tab_to '"id":"invite"' -4
e2e_key Return
session_id=$(copied "session id")
password=$(copied "password")
[[ $session_id =~ ^[0-9a-z]+$ ]] || e2e_fail "the session id copied is '$session_id'"
_e2e_log "session $session_id, password of ${#password} characters"
e2e_shot invite

# --- 2. App two joins with them ---------------------------------------------------------------
e2e_app two
# shellcheck disable=SC2119
e2e_start_app
e2e_wait_diag screen '"step":"start","phase":"none"' >/dev/null
e2e_wait_focus '"name":"Create session"'
e2e_tab_to '"id":"join-id"' 3
# A loaded machine is slow to take typed text: Tab moves on once it took all of it.
e2e_type "$session_id"
e2e_key Tab
e2e_wait_focus '"id":"join-password"' 60
e2e_type "$password"
e2e_key Tab
e2e_wait_focus '"name":"Show password"' 60
e2e_shot join
e2e_tab_to '"name":"Join session"' 2
# App one's dialog may take the focus as soon as the join leaves: its mark comes first.
e2e_app one
e2e_mark
e2e_app two
e2e_key Return

# --- 3. The safety words: both computers ask, show the same twelve words, and trust -----------
# The computer joined checks the joiner's key first; once trusted, the joiner checks its key.
e2e_app one
e2e_wait_focus '"name":"The same words: trust"' 60
e2e_shot trust-host
words_one=$E2E_LAST_SHOT
e2e_key Return
e2e_app two
e2e_wait_focus '"name":"The same words: trust"' 60
e2e_shot trust-joiner
words_two=$E2E_LAST_SHOT

# The dialog is 520 px wide in the middle of the window, both windows being the same size.
# shellcheck disable=SC2034 # set by the eval; only X and WIDTH are used
eval "$(xdotool getwindowgeometry --shell "$E2E_WID")"
same=$(same_rows "$words_one" "$words_two" $((X + WIDTH / 2 - 250)) 500)
# The same words share the words, the sentence above them, the hint and the buttons below: 185
# rows with a drawing; one word other than the last gives 93 (the hint and the buttons), one
# other word on the first line about 140.
((same >= 160)) || e2e_fail "the two safety-words dialogs share only $same rows of pixels: they do not show the same words (see $words_one and $words_two)"
_e2e_log "the two safety-words dialogs show the same words ($same rows of pixels alike)"
e2e_key Return

e2e_wait_diag screen '"step":"start","phase":"session"' 60 >/dev/null
e2e_wait_focus '"name":"Continue"'
e2e_app one
e2e_tab_to '"name":"Continue"' 8

# --- 4. Data: app two's folder shows at once in app one's Computers card, then app one's -------
# A computer's folders are declared to the session as they are added on the Data step. App one,
# the oldest member, starts the inventory of the session, and app two follows by itself.
e2e_app one
e2e_key Return
e2e_wait_diag screen '"step":"data"' >/dev/null
e2e_wait_focus '"id":"add-node"'
e2e_settle || true
card_before=$(computers_card)

e2e_app two
e2e_key Return
e2e_wait_diag screen '"step":"data"' >/dev/null
e2e_wait_focus '"id":"add-node"'
e2e_key Return
e2e_wait_focus '"id":"path-Ba"'
e2e_type "$dst"
e2e_key Return
e2e_wait_focus '"id":"start-inventory"' 60
e2e_wait_file "$E2E_WORK/server.log" 'method=POST path=/[^ ]*/members/[^ ]*/nodes/[^ ]*/sources status=2' 30 ||
  e2e_fail "app two's folder did not reach the server"

e2e_app one
deadline=$(_e2e_deadline 30)
until [[ $(computers_card) != "$card_before" ]]; do
  (($(_e2e_now_us) < deadline)) || e2e_fail "app one's Computers card did not change to show app two's folder"
  sleep 0.2
done
_e2e_log "app two's folder reached app one's Computers card"

e2e_app one
e2e_key Return
e2e_wait_focus '"id":"path-Aa"'
e2e_type "$src"
e2e_key Return
e2e_wait_focus '"id":"start-inventory"' 60
e2e_shot computers

# --- 5. Inventory, comparison, rules and confirmation on app one ------------------------------
e2e_key Return
e2e_wait_diag screen '"step":"inventory"' >/dev/null
e2e_app two
e2e_wait_diag screen '"step":"inventory"' 60 >/dev/null
_e2e_log "app two followed app one into the inventory"
e2e_app one
inventory=$(e2e_wait_diag inventory-done . 120)
[[ $inventory == *'"error":""'* ]] || e2e_fail "app one's inventory failed: $inventory"
e2e_wait_focus '"name":"Compare"'
e2e_key Return
e2e_wait_diag screen '"step":"comparison"' >/dev/null
e2e_wait_focus '"id":"filter"'
e2e_tab_to '"name":"Continue to rules"'
e2e_key Return
e2e_wait_diag screen '"step":"rules"' >/dev/null
rules=$(e2e_wait_diag rules .)
[[ $rules == *'"mode":"mirror"'* ]] || e2e_fail "the Rules step did not preselect the mirror: $rules"
e2e_wait_focus '"kind":"input:radio","name":"Mirror'
e2e_tab_to '"name":"Continue to synchronize"'
e2e_key Return
e2e_wait_diag screen '"step":"synchronize"' >/dev/null
plan=$(e2e_wait_diag confirmation . 30)
expect "planned copies" "$(json_num "$plan" copies)" "$want_copies"
expect "planned deletes" "$(json_num "$plan" deletes)" "$want_deletes"
expect "refused actions" "$(json_num "$plan" refused)" 0
actions=$(json_num "$plan" actions)
e2e_wait_focus '"name":"Start synchronization"'
e2e_shot confirm

# --- 6. The synchronization: both apps end on the summary and notify ---------------------------
e2e_key Return
ended=$(e2e_wait_diag sync-done . 120)
expect "app one's end" "$(json_str "$ended" end)" regular
expect "app one's finished actions" "$(json_num "$ended" finished)" "$actions"
e2e_wait_diag screen '"step":"done"' >/dev/null

e2e_app two
ended=$(e2e_wait_diag sync-done . 120)
expect "app two's end" "$(json_str "$ended" end)" regular
e2e_wait_diag screen '"step":"done"' >/dev/null

# Each app sends its own Notify call: two senders on the bus.
deadline=$(_e2e_deadline 30)
while :; do
  senders=$(awk '/^method call/ { sender = $0; sub(/.* sender=/, "", sender); sub(/ .*/, "", sender); n = 0; next }
    /^   string "/ { n++; if (n == 3 && /^   string "Synchronization finished/) print sender }' "$E2E_NOTIFY_LOG" | sort -u | wc -l)
  ((senders >= 2)) && break
  (($(_e2e_now_us) < deadline)) || e2e_fail "$senders app(s) of two notified the end of the synchronization: $(e2e_notifications | tr '\n' '|')"
  sleep 0.1
done
_e2e_log "both apps notified: $(e2e_notifications | grep -A1 -x 'Synchronization finished' | grep -v -e '^--$' -e '^Synchronization finished$' | sort -u | tr '\n' '|')"
dunstctl close-all

diff -r "$src" "$dst" >"$E2E_WORK/diff.txt" || e2e_fail "app two's folder differs from app one's: $(head -n 5 "$E2E_WORK/diff.txt")"
"$folders" same "$src" "$dst" || e2e_fail "app two's folder is not a mirror of app one's (contents or dates)"
_e2e_log "app two's folder is a mirror of app one's"

e2e_shot done-two
e2e_app one
e2e_shot done-one

e2e_finish
