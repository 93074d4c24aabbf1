# Sourced by scripts/test.sh and scripts/demo.sh: install_deps CMD=PACKAGE...
# installs, with apt-get, the Debian package of every command that is missing
# (a fresh machine has Go and nothing else).
install_deps() {
  local missing=() pair cmd pkg pkgs sudo=
  for pair in "$@"; do
    cmd=${pair%%=*} pkg=${pair#*=}
    PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  echo "$(basename "$0"): installing $pkgs" >&2
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
}
export PATH="$PATH:/usr/sbin:/sbin"
