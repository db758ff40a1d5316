#!/usr/bin/env bash
# Starts the built desktop app on a virtual X display, waits for its window titled
# "Ferry", checks that the page rendered, and saves a screenshot of the window.
#
#   build/e2e/skeleton.sh [BINARY] [SCREENSHOT] [ABOUT_SCREENSHOT]
#
# With ABOUT_SCREENSHOT it then opens Settings, whose About shows the version, and saves that too.
#
# Needs Xvfb, xdotool and ImageMagick (make deps-run installs them).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build/bin/ferry-desktop}
shot=${2:-$root/build/out/screenshots/start.png}
about_shot=${3:-}
timeout=${FERRY_E2E_TIMEOUT:-60}

[[ -x $bin ]] || { echo "skeleton: $bin not built (run make build)" >&2; exit 1; }
for tool in Xvfb xdotool import convert; do
  command -v "$tool" >/dev/null || { echo "skeleton: $tool missing (run make deps-run)" >&2; exit 1; }
done

work=$(mktemp -d)
app_pid='' bus_pid='' xvfb_pid=''
cleanup() {
  local rc=$?
  set +e
  [[ -n $app_pid ]] && kill "$app_pid" 2>/dev/null && wait "$app_pid" 2>/dev/null
  [[ -n $bus_pid ]] && kill "$bus_pid" 2>/dev/null
  [[ -n $xvfb_pid ]] && kill "$xvfb_pid" 2>/dev/null && wait "$xvfb_pid" 2>/dev/null
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

fail() {
  echo "skeleton: $*" >&2
  echo "--- app output ---" >&2
  cat "$work/app.log" >&2 || true
  exit 1
}

# Display :99, or the next free one if another X server holds it.
n=99
while [[ -e /tmp/.X$n-lock || -e /tmp/.X11-unix/X$n ]]; do n=$((n + 1)); done
export DISPLAY=:$n
Xvfb "$DISPLAY" -screen 0 1280x900x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 100); do
  xdotool getdisplaygeometry >/dev/null 2>&1 && break
  kill -0 "$xvfb_pid" 2>/dev/null || { cat "$work/xvfb.log" >&2; echo "skeleton: Xvfb did not start" >&2; exit 1; }
  sleep 0.1
done

# A private session bus, as a desktop session would have.
if command -v dbus-daemon >/dev/null; then
  dbus-daemon --session --fork --print-address=3 --print-pid=4 3>"$work/bus.addr" 4>"$work/bus.pid"
  bus_pid=$(<"$work/bus.pid")
  DBUS_SESSION_BUS_ADDRESS=$(<"$work/bus.addr")
  export DBUS_SESSION_BUS_ADDRESS
fi

# Xvfb has no GPU; WebKitGTK renders in software there.
export WEBKIT_DISABLE_COMPOSITING_MODE=1 LIBGL_ALWAYS_SOFTWARE=1 GDK_BACKEND=x11 NO_AT_BRIDGE=1
"$bin" >"$work/app.log" 2>&1 &
app_pid=$!

# xdotool matches names case-insensitively, and GTK maps a helper window named after the binary
# ("ferry"): keep looking until a visible window's name is exactly "Ferry".
wid=""
deadline=$((SECONDS + timeout))
while [[ -z $wid ]]; do
  for w in $(xdotool search --onlyvisible --name '^Ferry$' 2>/dev/null); do
    [[ $(xdotool getwindowname "$w" 2>/dev/null) == Ferry ]] && wid=$w && break
  done
  [[ -n $wid ]] && break
  ((SECONDS < deadline)) || fail "no window titled Ferry within ${timeout}s"
  kill -0 "$app_pid" 2>/dev/null || fail "app exited before its window appeared"
  sleep 0.2
done

# grab FILE saves the window, trying again while X cannot read it yet (a window being mapped or
# resized answers "Resource temporarily unavailable").
grab() {
  local end=$((SECONDS + timeout))
  until import -window "$wid" "$1" 2>/dev/null; do
    ((SECONDS < end)) || fail "cannot read the window's image within ${timeout}s"
    sleep 0.2
  done
}

# The window maps before the webview paints; wait until it shows more than the background.
mkdir -p "$(dirname "$shot")"
deadline=$((SECONDS + timeout))
while :; do
  grab "$work/shot.png"
  colors=$(convert "$work/shot.png" -format '%k' info:)
  ((colors > 64)) && break
  ((SECONDS < deadline)) || fail "window titled Ferry stayed blank ($colors colours)"
  kill -0 "$app_pid" 2>/dev/null || fail "app exited"
  sleep 0.5
done
sleep 1 # let fonts and the version call settle
# No timestamps in the PNG, so an unchanged page gives an unchanged file.
grab "$work/shot.png"
convert "$work/shot.png" -strip -define png:exclude-chunks=date,time "$shot"
echo "skeleton: window 'Ferry' ($(xdotool getwindowgeometry "$wid" | sed -n 's/.*Geometry: //p')) rendered; screenshot $shot"

if [[ -n $about_shot ]]; then
  # The gear at the top right of the window opens Settings; wait until the window changes.
  read -r width < <(xdotool getwindowgeometry "$wid" | sed -n 's/.*Geometry: \([0-9]*\)x.*/\1/p')
  xdotool mousemove --window "$wid" $((width - 30)) 25 click 1
  xdotool mousemove --window "$wid" 20 400 # no tooltip over the gear in the screenshot
  deadline=$((SECONDS + timeout))
  while :; do
    grab "$work/about.png"
    diff=$(compare -metric AE "$work/shot.png" "$work/about.png" null: 2>&1 || true)
    ((${diff%%.*} > 1000)) && break
    ((SECONDS < deadline)) || fail "Settings did not open"
    sleep 0.2
  done
  sleep 0.5 # the dialog's fade-in
  grab "$work/about.png"
  convert "$work/about.png" -strip -define png:exclude-chunks=date,time "$about_shot"
  echo "skeleton: Settings and About shown; screenshot $about_shot"
fi
