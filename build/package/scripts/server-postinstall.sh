#!/bin/sh
# ferry-server: after install or upgrade (deb: configure; rpm: 1 or 2).
set -e
case "$1" in configure | 1 | 2) ;; *) exit 0 ;; esac

# The service's own system user.
if ! getent passwd ferry-server >/dev/null; then
  if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers ferry-server.conf
  else
    useradd --system --user-group --home-dir /var/lib/ferry-server --no-create-home \
      --shell /usr/sbin/nologin --comment "Ferry session server" ferry-server
  fi
fi

# Enabled, not started: the operator reviews /etc/ferry/server.conf first.
if command -v deb-systemd-helper >/dev/null 2>&1; then
  deb-systemd-helper enable ferry-server.service >/dev/null || true
elif command -v systemctl >/dev/null 2>&1; then
  systemctl enable ferry-server.service >/dev/null 2>&1 || true
fi
# An upgrade restarts a running server on the new binary.
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null 2>&1 || true
  if command -v deb-systemd-invoke >/dev/null 2>&1; then
    deb-systemd-invoke try-restart ferry-server.service >/dev/null || true
  else
    systemctl try-restart ferry-server.service >/dev/null 2>&1 || true
  fi
fi
