#!/usr/bin/env bash
# Checks the end-to-end harness itself on WebKitGTK's MiniBrowser (the engine Ferry's window
# uses; Debian's libwebkit2gtk-4.1-0 ships it) showing a page titled "Ferry": keystrokes reach
# the page without a window manager, screenshots are saved, Notify calls are logged, a missed
# wait fails, and a run whose app dies fails with its logs.
#
#   build/e2e/selftest.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=build/e2e/lib.sh
source "$here/lib.sh"

browser=$(compgen -G '/usr/lib/*/webkit2gtk-4.1/MiniBrowser' | head -n 1 || true)
[[ -n $browser ]] || { echo "selftest: MiniBrowser not found (Debian package libwebkit2gtk-4.1-0)" >&2; exit 1; }
out=${1:-$(mktemp -d "${TMPDIR:-/tmp}/ferry-e2e-selftest.XXXXXX")}

if [[ -z ${E2E_IN_SESSION:-} ]]; then
  # A run whose app exits at once must fail, say why and show the screen.
  failing=$(mktemp -d "${TMPDIR:-/tmp}/ferry-e2e-failing.XXXXXX")
  set +e
  log=$("$here/run.sh" /bin/true "$failing" 2>&1)
  rc=$?
  set -e
  if ((rc == 0)) || ! grep -q 'the app exited' <<<"$log" || [[ ! -s $failing/failure.png ]]; then
    echo "$log" >&2
    echo "selftest: a run whose app exited did not fail as it should (exit $rc)" >&2
    exit 1
  fi
  rm -rf "$failing"
  echo "selftest: a dying app fails the run (exit $rc) with its logs and failure.png" >&2
fi

e2e_setup "$browser" "$out" "$out"
e2e_check_notifications

page=$E2E_WORK/page.html
cat >"$page" <<'HTML'
<!doctype html>
<html><head><title>Ferry</title>
<style>
  body { font: 16px sans-serif; margin: 40px; background: linear-gradient(135deg, #eff6ff, #dbeafe); }
  input { display: block; margin: 12px 0; font-size: 18px; }
</style></head>
<body>
  <h1>Harness check</h1>
  <form id="f">
    <input id="a" autofocus placeholder="first">
    <input id="b" placeholder="second">
    <button type="submit">Send</button>
  </form>
  <script>
    document.getElementById('f').addEventListener('submit', (e) => {
      e.preventDefault();
      document.title = 'Ferry submitted ' + a.value + '/' + b.value;
    });
  </script>
</body></html>
HTML

e2e_start_app "file://$page"

# wait_title TEXT waits for the window's name to become TEXT.
wait_title() {
  local deadline
  deadline=$(_e2e_deadline 10)
  until [[ $(xdotool getwindowname "$E2E_WID") == "$1" ]]; do
    (($(_e2e_now_us) < deadline)) || e2e_fail "the window's name is '$(xdotool getwindowname "$E2E_WID")', not '$1'"
    sleep 0.1
  done
}

e2e_type "hello"
e2e_tab 1
e2e_type "world e2e"
e2e_tab -1
e2e_key ctrl+a BackSpace
e2e_type "again"
e2e_key Return
wait_title "Ferry submitted again/world e2e"
e2e_shot typed

notify-send "Synchronization finished" "3 files copied"
e2e_wait_log 'Synchronization finished' 10
summaries=$(e2e_notifications)
grep -qx '3 files copied' <<<"$summaries" || e2e_fail "e2e_notifications gave: $summaries"

if (e2e_wait_log 'never printed' 1) 2>/dev/null; then
  e2e_fail "e2e_wait_log found a line nobody printed"
fi

[[ -s $E2E_OUT/01-typed.png ]] || e2e_fail "no screenshot 01-typed.png"

e2e_key ctrl+w # closes MiniBrowser's only window, which ends it
e2e_wait_exit 10
e2e_finish
