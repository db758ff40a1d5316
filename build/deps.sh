#!/usr/bin/env bash
# Installs the Debian packages given as arguments that are not installed yet.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

missing=()
for pkg in "$@"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$pkg")
done
((${#missing[@]})) || exit 0

sudo=()
((EUID == 0)) || sudo=(sudo --preserve-env=DEBIAN_FRONTEND)
apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
echo "deps: installing ${missing[*]}"
"${sudo[@]}" "${apt[@]}" update
"${sudo[@]}" "${apt[@]}" install --no-install-recommends "${missing[@]}"
