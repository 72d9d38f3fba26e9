#!/usr/bin/env bash
# Checks that the files of deploy/ run, with the tools an operator would use:
# - nginx -t on deploy/nginx/netkan.conf (Debian's nginx, installed if missing), the file
#   included in an http block as /etc/nginx/sites-enabled/ would be, with its certificate
#   paths pointed at a throwaway self-signed certificate (the only change);
# - systemd-analyze verify on every unit of deploy/systemd (systemd's tools installed if
#   missing and installable), in a throwaway root holding the units, this build's binaries
#   at their ExecStart paths and the system's own units; any message fails the check;
# - docker compose config on deploy/compose.yaml where a compose client exists.
# Exits non-zero on any failure; says what it could not check.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/prereqs.sh
install_prereqs nginx openssl
command -v systemd-analyze >/dev/null 2>&1 || install_prereqs systemd-analyze:systemd || true

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== nginx -t deploy/nginx/netkan.conf ($(nginx -v 2>&1))"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=netkan.example.org \
  -keyout "$work/privkey.pem" -out "$work/fullchain.pem" 2>/dev/null
sed "s#/etc/letsencrypt/live/netkan.example.org/#$work/#" deploy/nginx/netkan.conf >"$work/netkan.conf"
mkdir -p "$work/logs"
cat >"$work/nginx.conf" <<CONF
pid $work/nginx.pid;
error_log $work/logs/error.log;
events {}
http {
    include /etc/nginx/mime.types;
    access_log off;
    include $work/netkan.conf;
}
CONF
nginx -t -p "$work" -c "$work/nginx.conf"

units=(deploy/systemd/*.service deploy/systemd/*.timer deploy/systemd/*.target)
if command -v systemd-analyze >/dev/null 2>&1; then
  echo "== systemd-analyze verify deploy/systemd ($(systemd-analyze --version | head -1))"
  # The binaries only need to exist at their ExecStart paths: the release build's (the
  # README's build command, a no-op after it), or with NETKAN_BUILD_PROFILE=dev the debug
  # build's (CI's, a no-op after its tests).
  profile=${NETKAN_BUILD_PROFILE:-release}
  dir=$profile
  [ "$profile" = dev ] && dir=debug
  cargo build --profile "$profile" --quiet --workspace
  root="$work/root"
  mkdir -p "$root/etc/systemd/system" "$root/usr/local/bin" "$root/usr/lib/systemd"
  cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
  cp "${units[@]}" "$root/etc/systemd/system/"
  for bin in netkan netkan-web netkan-worker netkan-hook; do
    install -m755 "${CARGO_TARGET_DIR:-target}/$dir/$bin" "$root/usr/local/bin/$bin"
  done
  failed=0
  for unit in "${units[@]}"; do
    name=$(basename "$unit")
    # A template is verified through an instance.
    [[ $name == *@.service ]] && name=${name/@.service/@inflate.service}
    if ! out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no --root="$root" "$name" 2>&1) || [ -n "$out" ]; then
      echo "$name: ${out:-systemd-analyze failed}"
      failed=1
    else
      echo "$name: ok"
    fi
  done
  [ "$failed" = 0 ]
else
  echo "== systemd-analyze is not installed and could not be: deploy/systemd NOT verified"
fi

if docker compose version >/dev/null 2>&1; then
  echo "== docker compose config deploy/compose.yaml"
  docker compose -f deploy/compose.yaml config --quiet
else
  echo "== no docker compose client: deploy/compose.yaml NOT validated"
fi
echo "deploy files checked"
