# Debian packages for interop runs, downloaded and extracted under build/interop/ (never installed).
# Sourced by scripts/interop.sh and the tests in tests/interop/ and tests/emu/:
#   source scripts/xen-debs.sh; xen_debs_work=<dir>   (default: <repo>/build/interop)
#   extract_deb xen-utils-4.17 && X=$xen_debs_work/root/usr/lib/xen-4.17/bin
# fetch_deb takes the .deb from $xen_debs_work/debs, else the apt cache, else `apt-get download`
# (after `apt-get update` when apt does not know the package). Concurrent callers (ctest -j)
# serialise on $xen_debs_work/.lock.
xen_debs_work=${xen_debs_work:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/interop}

fetch_deb() {  # fetch_deb <package>: a .deb in $xen_debs_work/debs
  local pkg=$1
  ls "$xen_debs_work"/debs/"${pkg}"_*.deb >/dev/null 2>&1 && return 0
  mkdir -p "$xen_debs_work/debs"
  local cached
  cached=$(ls /var/cache/apt/archives/"${pkg}"_*.deb 2>/dev/null | head -1)
  if [ -n "$cached" ]; then cp "$cached" "$xen_debs_work/debs/"; return 0; fi
  if ! apt-cache show "$pkg" >/dev/null 2>&1; then
    local sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo -n)
    "${sudo_cmd[@]}" apt-get update -qq || return 1
  fi
  (cd "$xen_debs_work/debs" && apt-get download -qq "$pkg") &&
    ls "$xen_debs_work"/debs/"${pkg}"_*.deb >/dev/null 2>&1
}

extract_deb() {  # extract_deb <package>: dpkg -x into $xen_debs_work/root once
  local pkg=$1
  mkdir -p "$xen_debs_work"
  (
    flock 9
    [ -f "$xen_debs_work/root/.extracted-$pkg" ] && exit 0
    fetch_deb "$pkg" || { echo "cannot download $pkg" >&2; exit 1; }
    mkdir -p "$xen_debs_work/root"
    dpkg -x "$(ls "$xen_debs_work"/debs/"${pkg}"_*.deb | head -1)" "$xen_debs_work/root" &&
      touch "$xen_debs_work/root/.extracted-$pkg"
  ) 9>"$xen_debs_work/.lock"
}
