# Sourced by the scripts in this folder: installs missing Debian packages, and checks for
# cargo. Arguments are commands, or `command:package` where the package is named otherwise.
install_prereqs() {
  local missing=()
  for spec in "$@"; do
    local cmd=${spec%%:*} pkg=${spec#*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is missing: install Rust from https://rustup.rs, then run this again" >&2
    exit 1
  fi
}
