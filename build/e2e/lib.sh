# shellcheck shell=bash
# Ferry's end-to-end harness: runs the desktop app on a virtual display inside a private
# D-Bus session with a real notification daemon, drives it by keyboard and screenshots it.
# Source it from a runner (see run.sh):
#
#   source build/e2e/lib.sh
#   e2e_setup BIN OUTDIR "$@"   # re-runs the runner inside dbus-run-session, starts Xvfb,
#                               # dunst and the Notify monitor
#   e2e_start_app               # starts BIN, waits for the window "Ferry", focuses it
#   e2e_shot start              # OUTDIR/01-start.png once the screen is still
#   e2e_tab 2; e2e_type "text"; e2e_key Return
#   e2e_wait_log 'Synchronization finished' 60
#   e2e_key ctrl+q; e2e_wait_exit   # when the run ends by quitting
#   e2e_finish                  # prints the screenshot folder; the trap tears everything down
#
# With FERRY_DIAGNOSTICS=1 (e2e_start_app sets it) the app writes "ferry-diagnostics NAME JSON"
# lines to stderr: the screen shown, the focused element, the inventory's end, the plan, the
# synchronization's progress and end, the comparison table's frame times (see
# frontend/src/lib/diagnostics.svelte.ts). Every key sent marks the log, and the waits below
# look only at the lines written since the last mark: the app's answer to the last input.
#
#   e2e_wait_diag screen '"step":"data"' 10   # prints the JSON of the first matching line
#   e2e_wait_focus '"id":"path-A"'            # the focus report after the mark matches
#   e2e_tab_to '"name":"Continue to rules"'   # Tab until the focus gets there
#   e2e_diag_all comparison-scroll            # every JSON of that name since the mark
#   e2e_start_helper tray COMMAND…            # a background helper, stopped by the teardown
#   e2e_wait_window hidden                    # the window was hidden (or: shown)
#   e2e_snap progress                         # a screenshot at once, even of a moving screen
#                                             # (its file: $E2E_LAST_SHOT)
#
# Any failure (a helper's timeout, a command failing under set -e, the app exiting) ends the
# run with a non-zero status and the last lines of every log.
#
# Several apps (one per computer of a session): each on its own display, with its own
# configuration folder and log. e2e_app NAME makes NAME the app that the functions above drive
# (its display, window, log and mark); a new NAME gets a new display, started at once:
#
#   e2e_app one; e2e_start_app          # display 1, configuration WORK/config-one
#   e2e_app two; e2e_start_app          # display 2, configuration WORK/config-two
#   e2e_app one; e2e_key Return         # back to the first app
#
# Focus: no window manager runs. Xvfb's input focus starts as PointerRoot, and xdotool
# windowactivate needs a window manager (_NET_ACTIVE_WINDOW), so e2e_start_app sets the
# focus with XSetInputFocus (xdotool windowfocus), which GTK takes as a FocusIn, and parks the
# pointer over the window so that PointerRoot would lead there too. Keystrokes go through
# XTEST to the focused window, which GTK accepts (it ignores synthetic XSendEvent ones, so
# never use xdotool's --window option for typing).
#
# Environment: E2E_TIMEOUT (seconds to wait for the window, default 60), E2E_SETTLE (seconds
# e2e_shot waits for a still screen, default 10), E2E_KEEP=1 keeps the work folder.

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The Debian packages the harness needs, for build/deps.sh (libx11-dev: build/e2e/desktop;
# xclip: what an app copied).
E2E_DEBS="xvfb xdotool imagemagick dbus dunst libnotify-bin libx11-dev xclip"

E2E_SCREEN=1280x800x24

# _e2e_now_us prints the time in microseconds.
_e2e_now_us() { echo "${EPOCHREALTIME/./}"; }

# _e2e_deadline SECONDS prints the time SECONDS from now, in microseconds.
_e2e_deadline() { echo $(($(_e2e_now_us) + ${1%.*} * 1000000)); }

_e2e_log() { echo "e2e: $*" >&2; }

# e2e_fail MESSAGE ends the run with MESSAGE; the trap prints the logs.
e2e_fail() {
  _e2e_log "FAIL: $*"
  E2E_FAILED=1
  exit 1
}

# _e2e_tail FILE LABEL prints the last 50 lines of FILE.
_e2e_tail() {
  [[ -s $1 ]] || return 0
  echo "--- last 50 lines of $2 ($1) ---" >&2
  tail -n 50 "$1" >&2
}

# _e2e_teardown stops what the harness started, newest first, and reports a failure.
_e2e_teardown() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [[ -n ${E2E_APP_NAME:-} ]] && _e2e_app_save
  local pid name app
  if { ((rc != 0)) || [[ -n ${E2E_FAILED:-} ]]; } && [[ -n ${DISPLAY:-} && -n ${E2E_XVFB_PID:-} ]]; then
    import -silent -window root "$E2E_OUT/failure.png" 2>/dev/null &&
      _e2e_log "screen at the failure: $E2E_OUT/failure.png"
    for app in "${!E2E_APPS[@]}"; do
      [[ $app == "${E2E_APP_NAME:-}" ]] && continue
      DISPLAY=$(_e2e_app_field "$app" 4) import -silent -window root "$E2E_OUT/failure-$app.png" 2>/dev/null &&
        _e2e_log "screen of app $app at the failure: $E2E_OUT/failure-$app.png"
    done
  fi
  for pid in "$E2E_APP_PID" $(for app in "${!E2E_APPS[@]}"; do _e2e_app_field "$app" 0; done) \
    "${E2E_HELPER_PIDS[@]}" "$E2E_DUNST_PID" "$E2E_MONITOR_PID" "${E2E_XVFB_PIDS[@]}"; do
    [[ -n $pid && $pid != - ]] && _e2e_stop "$pid"
  done
  if ((rc != 0)) || [[ -n ${E2E_FAILED:-} ]]; then
    ((rc != 0)) || rc=1
    if ((${#E2E_APPS[@]} == 0)); then
      _e2e_tail "$E2E_APP_LOG" "the app's output"
    fi
    for app in "${!E2E_APPS[@]}"; do
      _e2e_tail "$(_e2e_app_field "$app" 2)" "app $app's output"
    done
    _e2e_tail "$E2E_NOTIFY_LOG" "the Notify calls"
    for name in "${E2E_HELPERS[@]}"; do
      _e2e_tail "$E2E_WORK/$name.log" "$name"
    done
    _e2e_tail "$E2E_WORK/dunst.log" "dunst"
    _e2e_tail "$E2E_WORK/xvfb.log" "Xvfb"
    [[ -n ${E2E_OUT:-} ]] && _e2e_log "screenshots so far: $E2E_OUT"
    _e2e_log "failed (exit $rc)"
  fi
  if [[ -n ${E2E_KEEP:-} ]]; then
    _e2e_log "work folder kept: $E2E_WORK"
  else
    rm -rf "$E2E_WORK"
  fi
  exit "$rc"
}

# _e2e_stop PID terminates PID and waits for it, at most 5 s before killing it.
_e2e_stop() {
  kill -TERM "$1" 2>/dev/null || return 0
  local deadline
  deadline=$(_e2e_deadline 5)
  while kill -0 "$1" 2>/dev/null; do
    if (($(_e2e_now_us) > deadline)); then
      kill -KILL "$1" 2>/dev/null
      break
    fi
    sleep 0.05
  done
  wait "$1" 2>/dev/null
  return 0
}

# e2e_setup BIN OUTDIR ARGS… prepares everything but the app. ARGS are the runner's own
# arguments, for the re-run inside dbus-run-session.
e2e_setup() {
  local bin=${1:?e2e_setup BIN OUTDIR}
  local out=${2:?e2e_setup BIN OUTDIR}
  shift 2
  # Everything runs inside a private session bus (session.conf), which ends with the runner.
  if [[ -z ${E2E_IN_SESSION:-} ]]; then
    command -v dbus-run-session >/dev/null || { echo "e2e: dbus-run-session missing; install: $E2E_DEBS" >&2; exit 1; }
    E2E_IN_SESSION=1 exec dbus-run-session --config-file="$E2E_LIB_DIR/session.conf" -- "$BASH" "$0" "$@"
  fi

  local tool missing=()
  for tool in Xvfb xdotool import convert dbus-monitor dbus-send dunst dunstctl notify-send; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) || { echo "e2e: missing ${missing[*]}; install the Debian packages: $E2E_DEBS" >&2; exit 1; }
  [[ -x $bin ]] || { echo "e2e: $bin is not an executable (make build)" >&2; exit 1; }

  E2E_BIN=$(realpath "$bin")
  mkdir -p "$out"
  E2E_OUT=$(realpath "$out")
  # The folder shows this run only: drop an earlier run's screenshots.
  rm -f "$E2E_OUT"/[0-9][0-9]-*.png "$E2E_OUT"/failure*.png
  E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-e2e.XXXXXX")
  E2E_APP_LOG=$E2E_WORK/app.log
  E2E_NOTIFY_LOG=$E2E_WORK/notify.log
  E2E_APP_PID='' E2E_DUNST_PID='' E2E_MONITOR_PID='' E2E_XVFB_PID='' E2E_WID='' E2E_SHOTS=0 E2E_MARK=0
  E2E_HELPERS=() E2E_HELPER_PIDS=() E2E_XVFB_PIDS=() E2E_APP_NAME=''
  E2E_CONFIG=$E2E_WORK/config
  declare -gA E2E_APPS=()
  : >"$E2E_APP_LOG"
  trap _e2e_teardown EXIT
  trap 'e2e_fail "interrupted"' INT TERM

  # A clean user: configuration, data and cache of this run only.
  export XDG_CONFIG_HOME=$E2E_WORK/xdg/config XDG_DATA_HOME=$E2E_WORK/xdg/data \
    XDG_CACHE_HOME=$E2E_WORK/xdg/cache XDG_STATE_HOME=$E2E_WORK/xdg/state
  mkdir -p "$XDG_CONFIG_HOME/gtk-3.0" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME"
  # A steady caret, so that a still screen looks still.
  printf '[Settings]\ngtk-cursor-blink = false\ngtk-enable-animations = false\n' \
    >"$XDG_CONFIG_HOME/gtk-3.0/settings.ini"

  _e2e_start_x
  _e2e_start_notifications
}

# _e2e_start_x starts Xvfb on a display it picks itself (-displayfd: no race with other runs).
_e2e_start_x() {
  local fifo=$E2E_WORK/display
  mkfifo "$fifo"
  local log=$E2E_WORK/xvfb${E2E_XVFB_PIDS[0]:+-${#E2E_XVFB_PIDS[@]}}.log
  Xvfb -displayfd 3 -screen 0 "$E2E_SCREEN" -nolisten tcp -noreset 3>"$fifo" >"$log" 2>&1 &
  E2E_XVFB_PID=$!
  E2E_XVFB_PIDS+=("$E2E_XVFB_PID")
  local n=''
  # The fifo opens once Xvfb opened its end; it is written once the server accepts clients.
  read -r -t 30 n <"$fifo" || true
  rm -f "$fifo"
  [[ $n =~ ^[0-9]+$ ]] || e2e_fail "Xvfb did not start"
  export DISPLAY=:$n
  xdotool getdisplaygeometry >/dev/null || e2e_fail "Xvfb on $DISPLAY does not answer"
  _e2e_log "Xvfb on $DISPLAY ($E2E_SCREEN)"
}

# _e2e_bus_has NAME tells whether NAME has an owner on the session bus.
_e2e_bus_has() {
  dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q true
}

# _e2e_start_notifications starts the Notify monitor, then dunst, and waits for both.
_e2e_start_notifications() {
  : >"$E2E_NOTIFY_LOG"
  dbus-monitor --session \
    "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" \
    >"$E2E_NOTIFY_LOG" 2>&1 &
  E2E_MONITOR_PID=$!
  # dbus-monitor's first lines are its own NameAcquired/NameLost: it then listens.
  e2e_wait_file "$E2E_NOTIFY_LOG" 'member=NameLost' 10 || e2e_fail "dbus-monitor did not start"

  cat >"$E2E_WORK/dunstrc" <<'EOF'
[global]
    font = DejaVu Sans 10
    origin = top-right
    offset = 10x40
    width = 360
    frame_width = 1
    show_indicators = no
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
EOF
  dunst -config "$E2E_WORK/dunstrc" >"$E2E_WORK/dunst.log" 2>&1 &
  E2E_DUNST_PID=$!
  local deadline
  deadline=$(_e2e_deadline 10)
  until _e2e_bus_has org.freedesktop.Notifications; do
    kill -0 "$E2E_DUNST_PID" 2>/dev/null || e2e_fail "dunst exited"
    (($(_e2e_now_us) < deadline)) || e2e_fail "dunst did not take org.freedesktop.Notifications"
    sleep 0.05
  done
  _e2e_log "dunst serves org.freedesktop.Notifications; Notify calls logged to $E2E_NOTIFY_LOG"
}

# e2e_start_app [ARGS…] starts the app with its own configuration folder and diagnostics on,
# waits for its window titled "Ferry" to show the page, and gives it the keyboard focus.
e2e_start_app() {
  local timeout=${E2E_TIMEOUT:-60}
  mkdir -p "$E2E_CONFIG"
  # Xvfb has no GPU: WebKitGTK renders in software there.
  FERRY_CONFIG_DIR=$E2E_CONFIG FERRY_DIAGNOSTICS=1 \
    WEBKIT_DISABLE_COMPOSITING_MODE=1 LIBGL_ALWAYS_SOFTWARE=1 GDK_BACKEND=x11 NO_AT_BRIDGE=1 \
    "$E2E_BIN" "$@" >>"$E2E_APP_LOG" 2>&1 &
  E2E_APP_PID=$!

  # xdotool matches names case-insensitively and GTK maps a helper window named after the
  # binary ("ferry"): keep looking until a visible window's name is exactly "Ferry".
  local deadline w
  deadline=$(_e2e_deadline "$timeout")
  E2E_WID=''
  while [[ -z $E2E_WID ]]; do
    for w in $(xdotool search --onlyvisible --name '^Ferry$' 2>/dev/null); do
      [[ $(xdotool getwindowname "$w" 2>/dev/null) == Ferry ]] && E2E_WID=$w && break
    done
    [[ -n $E2E_WID ]] && break
    _e2e_check_app
    (($(_e2e_now_us) < deadline)) || e2e_fail "no window titled Ferry within ${timeout}s"
    sleep 0.1
  done

  # The window maps before the webview paints: wait until it shows more than its background.
  local colors
  while :; do
    colors=$(import -silent -window "$E2E_WID" png:- 2>/dev/null | convert - -format '%k' info: 2>/dev/null || echo 0)
    ((colors > 64)) && break
    _e2e_check_app
    (($(_e2e_now_us) < deadline)) || e2e_fail "the window titled Ferry stayed blank ($colors colours)"
    sleep 0.2
  done
  e2e_focus
  _e2e_log "window Ferry ($E2E_WID, $(xdotool getwindowgeometry "$E2E_WID" | sed -n 's/.*Geometry: //p')) shows the page"
}

# e2e_start_helper NAME COMMAND… runs COMMAND in the background for the rest of the run, its
# output in WORK/NAME.log (shown when the run fails); the teardown stops it.
e2e_start_helper() {
  local name=${1:?e2e_start_helper NAME COMMAND…}
  shift
  "$@" >"$E2E_WORK/$name.log" 2>&1 &
  E2E_HELPERS+=("$name")
  E2E_HELPER_PIDS+=("$!")
}

# e2e_wait_window shown|hidden [SECONDS] waits until the app's window is shown (viewable) or
# hidden, at most SECONDS (10).
e2e_wait_window() {
  local want=${1:?e2e_wait_window shown|hidden [SECONDS]} timeout=${2:-10} deadline shown
  deadline=$(_e2e_deadline "$timeout")
  while :; do
    shown=hidden
    xdotool search --onlyvisible --name '^Ferry$' 2>/dev/null | grep -qx "$E2E_WID" && shown=shown
    [[ $shown == "$want" ]] && return 0
    _e2e_check_app
    (($(_e2e_now_us) < deadline)) || e2e_fail "the window is still $shown after ${timeout}s"
    sleep 0.05
  done
}

# _e2e_check_app fails the run when the app, or another app of the run, has exited.
_e2e_check_app() {
  local app pid
  for app in "${!E2E_APPS[@]}"; do
    [[ $app == "$E2E_APP_NAME" ]] && continue
    pid=$(_e2e_app_field "$app" 0)
    [[ $pid == - ]] || kill -0 "$pid" 2>/dev/null || e2e_fail "app $app exited"
  done
  [[ -n $E2E_APP_PID ]] || return 0
  kill -0 "$E2E_APP_PID" 2>/dev/null && return 0
  local rc=0
  wait "$E2E_APP_PID" || rc=$?
  E2E_APP_PID=''
  e2e_fail "the app${E2E_APP_NAME:+ $E2E_APP_NAME} exited (status $rc)"
}

# e2e_app NAME makes the app NAME the one the other functions drive: its display, window,
# output and mark. The first NAME takes the display of e2e_setup; each new one starts a new
# display, and its app (e2e_start_app) uses the configuration folder WORK/config-NAME.
e2e_app() {
  local name=${1:?e2e_app NAME}
  [[ $name == "$E2E_APP_NAME" ]] && return 0
  [[ -n $E2E_APP_NAME ]] && _e2e_app_save
  if [[ -n ${E2E_APPS[$name]:-} ]]; then
    local f
    read -r -a f <<<"${E2E_APPS[$name]}"
    E2E_APP_PID=${f[0]/#-/} E2E_WID=${f[1]/#-/} E2E_APP_LOG=${f[2]} E2E_MARK=${f[3]}
    export DISPLAY=${f[4]}
    E2E_XVFB_PID=${f[5]} E2E_CONFIG=${f[6]}
  else
    # Every app is a new one: the first takes the display of e2e_setup, the others their own.
    ((${#E2E_APPS[@]} == 0)) || _e2e_start_x
    E2E_APP_PID='' E2E_WID='' E2E_MARK=0
    E2E_APP_LOG=$E2E_WORK/app-$name.log E2E_CONFIG=$E2E_WORK/config-$name
    : >"$E2E_APP_LOG"
  fi
  E2E_APP_NAME=$name
  _e2e_app_save
}

# _e2e_app_save keeps the state of the current app (e2e_app), paths without spaces.
_e2e_app_save() {
  E2E_APPS[$E2E_APP_NAME]="${E2E_APP_PID:--} ${E2E_WID:--} $E2E_APP_LOG $E2E_MARK $DISPLAY $E2E_XVFB_PID $E2E_CONFIG"
}

# _e2e_app_field NAME N prints field N of the state of app NAME: 0 its process (- when none),
# 1 its window, 2 its output, 3 its mark, 4 its display, 5 Xvfb's process, 6 its configuration.
_e2e_app_field() {
  local f
  read -r -a f <<<"${E2E_APPS[$1]}"
  echo "${f[$2]}"
}

# e2e_wait_exit [SECONDS] waits for the app to exit (after Quit), at most SECONDS (30), and
# fails the run unless it exited with status 0.
e2e_wait_exit() {
  local timeout=${1:-30} deadline rc=0
  [[ -n $E2E_APP_PID ]] || e2e_fail "the app is not running"
  deadline=$(_e2e_deadline "$timeout")
  while kill -0 "$E2E_APP_PID" 2>/dev/null; do
    (($(_e2e_now_us) < deadline)) || e2e_fail "the app still runs after ${timeout}s"
    sleep 0.1
  done
  wait "$E2E_APP_PID" || rc=$?
  E2E_APP_PID='' E2E_WID=''
  ((rc == 0)) || e2e_fail "the app exited with status $rc"
  _e2e_log "the app exited"
}

# e2e_focus gives the app's window the keyboard focus (see the top of this file).
e2e_focus() {
  # shellcheck disable=SC2034 # set by the eval; only X, Y, WIDTH and HEIGHT are used
  local WINDOW X Y WIDTH HEIGHT SCREEN
  eval "$(xdotool getwindowgeometry --shell "$E2E_WID")"
  xdotool mousemove "$((X + WIDTH / 2))" "$((Y + HEIGHT - 2))"
  xdotool windowfocus --sync "$E2E_WID"
}

# e2e_type TEXT types TEXT into the focused element.
e2e_type() {
  _e2e_check_app
  e2e_mark
  xdotool type --delay 25 -- "$1"
}

# e2e_key KEY… presses each key or chord in turn (xdotool names: Return, Tab, ctrl+a…).
e2e_key() {
  _e2e_check_app
  e2e_mark
  xdotool key --delay 40 -- "$@"
}

# e2e_tab N presses Tab N times (shift+Tab when N is negative).
e2e_tab() {
  local n=${1:?e2e_tab N} key=Tab i keys=()
  ((n >= 0)) || { n=$((-n)); key=shift+Tab; }
  for ((i = 0; i < n; i++)); do keys+=("$key"); done
  ((n == 0)) || e2e_key "${keys[@]}"
}

# _e2e_screen_hash prints a hash of the screen's pixels.
_e2e_screen_hash() {
  import -silent -window root -depth 8 rgb:- 2>/dev/null | md5sum | cut -d' ' -f1
}

# e2e_settle [SECONDS] waits until two screenshots 0.2 s apart are identical, at most SECONDS
# (E2E_SETTLE, 10). It returns 1, with a warning, when the screen kept changing.
e2e_settle() {
  local timeout=${1:-${E2E_SETTLE:-10}} deadline prev cur
  deadline=$(_e2e_deadline "$timeout")
  prev=$(_e2e_screen_hash)
  while :; do
    sleep 0.2
    cur=$(_e2e_screen_hash)
    [[ $cur == "$prev" ]] && return 0
    prev=$cur
    if (($(_e2e_now_us) > deadline)); then
      _e2e_log "warning: the screen kept changing for ${timeout}s"
      return 1
    fi
  done
}

# e2e_shot NAME waits for a still screen and saves it as OUTDIR/NN-NAME.png (NN counts the
# shots of the run, so the files sort in order).
e2e_shot() {
  local name=${1:?e2e_shot NAME}
  _e2e_check_app
  e2e_settle "${E2E_SETTLE:-10}" || true
  _e2e_save "$name"
}

# e2e_snap NAME saves the screen as OUTDIR/NN-NAME.png at once, without waiting for it to be
# still (a run in progress).
e2e_snap() {
  local name=${1:?e2e_snap NAME}
  _e2e_check_app
  _e2e_save "$name"
}

# _e2e_save NAME saves the screen as the next numbered screenshot, named in E2E_LAST_SHOT.
_e2e_save() {
  local name=$1
  E2E_SHOTS=$((E2E_SHOTS + 1))
  local file
  file=$E2E_OUT/$(printf '%02d' "$E2E_SHOTS")-$name.png
  # No timestamps in the PNG: an unchanged screen gives an unchanged file.
  import -silent -window root "$E2E_WORK/shot.png"
  convert "$E2E_WORK/shot.png" -strip -define png:exclude-chunks=date,time "$file.tmp.png"
  mv "$file.tmp.png" "$file"
  # shellcheck disable=SC2034 # for the runner
  E2E_LAST_SHOT=$file
  _e2e_log "screenshot $file"
}

# e2e_wait_file FILE PATTERN SECONDS waits for a line of FILE matching the extended regular
# expression PATTERN; it returns 1 after SECONDS.
e2e_wait_file() {
  local file=$1 pattern=$2 deadline
  deadline=$(_e2e_deadline "${3:-10}")
  until grep -qE -- "$pattern" "$file" 2>/dev/null; do
    (($(_e2e_now_us) < deadline)) || return 1
    sleep 0.1
  done
}

# e2e_wait_log PATTERN [SECONDS] waits for a line matching the extended regular expression
# PATTERN in the app's output or in the Notify calls (a notification's summary and body are
# string lines there), at most SECONDS (30); it fails the run otherwise.
e2e_wait_log() {
  local pattern=${1:?e2e_wait_log PATTERN [SECONDS]} timeout=${2:-30} deadline
  deadline=$(_e2e_deadline "$timeout")
  until grep -qE -- "$pattern" "$E2E_APP_LOG" "$E2E_NOTIFY_LOG" 2>/dev/null; do
    _e2e_check_app
    (($(_e2e_now_us) < deadline)) || e2e_fail "no line matching /$pattern/ within ${timeout}s"
    sleep 0.1
  done
  _e2e_log "seen /$pattern/"
}

# e2e_mark makes the diagnostics waits look only at the app's lines written from now on.
e2e_mark() {
  E2E_MARK=$(wc -l <"$E2E_APP_LOG")
}

# _e2e_diag_since NAME prints the JSON of every diagnostics line NAME since the mark, in order.
_e2e_diag_since() {
  tail -n "+$((E2E_MARK + 1))" "$E2E_APP_LOG" | sed -n "s/^ferry-diagnostics $1 //p"
}

# e2e_diag_all NAME prints the JSON of every diagnostics line NAME since the mark, one a line.
e2e_diag_all() {
  _e2e_diag_since "${1:?e2e_diag_all NAME}"
}

# e2e_wait_diag NAME PATTERN [SECONDS] waits for a diagnostics line NAME, written since the
# mark, whose JSON matches the extended regular expression PATTERN, at most SECONDS (30), and
# prints that JSON; it fails the run otherwise.
e2e_wait_diag() {
  local name=${1:?e2e_wait_diag NAME PATTERN [SECONDS]} pattern=${2:?e2e_wait_diag NAME PATTERN [SECONDS]}
  local timeout=${3:-30} deadline line
  deadline=$(_e2e_deadline "$timeout")
  while :; do
    line=$(_e2e_diag_since "$name" | grep -E -m 1 -- "$pattern" || true)
    [[ -n $line ]] && break
    _e2e_check_app
    (($(_e2e_now_us) < deadline)) || e2e_fail "no diagnostics '$name' matching /$pattern/ within ${timeout}s (last: $(_e2e_diag_since "$name" | tail -n 1))"
    sleep 0.05
  done
  echo "$line"
}

# e2e_wait_focus PATTERN [SECONDS] waits until the last focus report since the mark matches the
# extended regular expression PATTERN (on its JSON: id, kind, name), at most SECONDS (30: a
# loaded machine is slow to take typed text).
e2e_wait_focus() {
  local pattern=${1:?e2e_wait_focus PATTERN [SECONDS]} timeout=${2:-30} deadline last
  deadline=$(_e2e_deadline "$timeout")
  while :; do
    last=$(_e2e_diag_since focus | tail -n 1)
    grep -qE -- "$pattern" <<<"$last" && return 0
    _e2e_check_app
    (($(_e2e_now_us) < deadline)) || e2e_fail "the focus did not reach /$pattern/ within ${timeout}s (last: ${last:-no focus change})"
    sleep 0.05
  done
}

# e2e_tab_to PATTERN [MAX] presses Tab (shift+Tab when MAX is negative) until the focused
# element's report matches PATTERN, at most |MAX| (10) times, waiting for each move.
e2e_tab_to() {
  local pattern=${1:?e2e_tab_to PATTERN [MAX]} max=${2:-10} key=Tab i last
  ((max >= 0)) || { max=$((-max)); key=shift+Tab; }
  for ((i = 0; i < max; i++)); do
    e2e_key "$key"
    e2e_wait_focus . 30
    last=$(_e2e_diag_since focus | tail -n 1)
    grep -qE -- "$pattern" <<<"$last" && return 0
  done
  e2e_fail "$key did not reach /$pattern/ in $max presses (last: $last)"
}

# e2e_notifications prints the summaries and bodies of the Notify calls so far, one per line.
e2e_notifications() {
  # Notify's arguments: app_name, replaces_id, app_icon, summary, body, actions, hints, timeout.
  awk '/^method call/ { n = 0; next } /^   string "/ { n++; if (n == 3 || n == 4) { sub(/^   string "/, ""); sub(/"$/, ""); print } }' "$E2E_NOTIFY_LOG"
}

# e2e_check_notifications sends a notification and waits for the monitor to log it: the bus,
# dunst and the monitor work.
e2e_check_notifications() {
  local token="Ferry e2e check $$"
  notify-send --app-name=ferry-e2e "$token" "the harness' notification check" ||
    e2e_fail "notify-send failed"
  e2e_wait_log "string \"$token\"" 10
  dunstctl close-all # off the screenshots
}

# e2e_finish ends a successful run; the app must still run unless e2e_wait_exit saw it quit.
e2e_finish() {
  _e2e_check_app
  _e2e_log "passed; $E2E_SHOTS screenshot(s) in $E2E_OUT"
  echo "$E2E_OUT"
}
