#!/usr/bin/env bash
# Runs Ferry's desktop app on a virtual display, drives it by keyboard through its screens and
# saves a screenshot of each into OUTDIR. Exits non-zero, with the logs' last lines, when a
# step fails.
#
#   build/e2e/run.sh BIN OUTDIR
#
# Needs the Debian packages in E2E_DEBS (build/e2e/lib.sh).
set -euo pipefail
# shellcheck source=build/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

bin=${1:?usage: build/e2e/run.sh BIN OUTDIR}
out=${2:?usage: build/e2e/run.sh BIN OUTDIR}
e2e_setup "$bin" "$out" "$@"
e2e_check_notifications

# shellcheck disable=SC2119 # the app takes no arguments here
e2e_start_app
e2e_shot start

# The wizard's screens, one block each: reach the screen by keyboard, wait for what it shows
# (e2e_wait_log on the app's diagnostics or a notification), then e2e_shot.

e2e_finish
