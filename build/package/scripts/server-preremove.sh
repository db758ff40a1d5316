#!/bin/sh
# ferry-server: before removal (deb: remove; rpm: 0). An upgrade keeps the server running.
set -e
case "$1" in remove | 0) ;; *) exit 0 ;; esac
if command -v deb-systemd-helper >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    deb-systemd-invoke stop ferry-server.service >/dev/null || true
  fi
  deb-systemd-helper disable ferry-server.service >/dev/null || true
elif command -v systemctl >/dev/null 2>&1; then
  systemctl --no-reload disable --now ferry-server.service >/dev/null 2>&1 || true
fi
