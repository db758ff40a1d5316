#!/bin/sh
# ferry-server: after removal. A purge (deb) also drops the secret and the relayed parts.
set -e
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" = purge ]; then
  if command -v deb-systemd-helper >/dev/null 2>&1; then
    deb-systemd-helper purge ferry-server.service >/dev/null || true
  fi
  rm -rf /var/lib/ferry-server
fi
