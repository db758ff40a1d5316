#!/usr/bin/env bash
# Installs what the arguments name and is not installed yet: Debian packages, and
# seaweedfs@VERSION, the weed command (SeaweedFS, for the S3 tests) built from source into
# $(go env GOBIN) or $(go env GOPATH)/bin, skipped when that version is there already.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

# weed's module has replace directives, so `go install module@version` refuses it: build it
# in the downloaded module instead.
install_weed() {
  local version=$1 gobin dir
  gobin=$("$GO" env GOBIN)
  [[ -n $gobin ]] || gobin=$("$GO" env GOPATH)/bin
  if [[ -x $gobin/weed && -e $gobin/.weed-$version ]]; then
    return
  fi
  echo "deps: building weed (SeaweedFS $version) into $gobin, once"
  dir=$("$GO" mod download -json "github.com/seaweedfs/seaweedfs@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n $dir ]] || { echo "deps: could not download github.com/seaweedfs/seaweedfs@$version" >&2; exit 1; }
  mkdir -p "$gobin"
  (cd "$dir" && "$GO" build -o "$gobin/weed.tmp" ./weed)
  mv "$gobin/weed.tmp" "$gobin/weed"
  touch "$gobin/.weed-$version"
}

missing=()
for pkg in "$@"; do
  case $pkg in
  seaweedfs@*)
    install_weed "${pkg#seaweedfs@}"
    continue
    ;;
  esac
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
