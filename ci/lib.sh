# Shared by ci/test, ci/up and ci/bench: install what is missing, start what is not running.
# Everything here is idempotent: on a machine that already has it all, it only checks.
# shellcheck shell=bash

KCORE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="${KCORE_VENV:-$KCORE_ROOT/.venv}"
TEST_IMAGE="kcore-test/busybox:1"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/kcore-dockerd.log}"
STARTED_DOCKERD=""

log() { printf '\033[1m[ci]\033[0m %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
    # apt_install PKG... — installs the Debian packages that are not installed yet.
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ -z "$apt_updated" ]; then
        log "apt-get update"
        as_root apt-get update -qq
        apt_updated=1
    fi
    log "apt-get install ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

ensure_docker_engine() {
    # Debian's docker.io only when no engine is installed at all.
    if ! command -v dockerd >/dev/null 2>&1; then
        apt_install docker.io
    fi
    if docker info >/dev/null 2>&1; then
        return 0
    fi
    log "starting dockerd (no bridge, no iptables: containers use the host network only)"
    as_root sh -c "nohup dockerd --bridge=none --iptables=false --ip6tables=false \
        --ip-masq=false >>'$DOCKERD_LOG' 2>&1 &"
    STARTED_DOCKERD=1
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    log "dockerd did not come up; its log:"
    tail -n 40 "$DOCKERD_LOG" >&2 || true
    return 1
}

stop_started_dockerd() {
    [ -n "$STARTED_DOCKERD" ] || return 0
    log "stopping the dockerd this script started"
    as_root pkill -TERM -x dockerd || true
}

ensure_test_image() {
    # No registry is reachable: the test image is a root filesystem holding static busybox,
    # imported with `docker import`.
    docker image inspect "$TEST_IMAGE" >/dev/null 2>&1 && return 0
    apt_install busybox-static
    local root
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/var/www" "$root/proc" "$root/sys"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
    done
    echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
    echo "root:x:0:" >"$root/etc/group"
    log "building $TEST_IMAGE with docker import"
    tar -C "$root" -c . | docker import \
        --change 'ENV PATH=/bin' --change 'CMD ["sh"]' - "$TEST_IMAGE" >/dev/null
    rm -rf "$root"
}

ensure_venv() {
    # ensure_venv [EXTRAS] — the package (with its compiled extensions) in the project venv.
    local extras="${1:-}" spec="$KCORE_ROOT"
    [ -z "$extras" ] || spec="$KCORE_ROOT[$extras]"
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV"
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.kcore-installed-${extras:-base}"
    if [ ! -f "$stamp" ] || [ "$KCORE_ROOT/pyproject.toml" -nt "$stamp" ] ||
        [ "$KCORE_ROOT/setup.py" -nt "$stamp" ]; then
        log "pip install -e $spec"
        "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel "Cython>=3.0,<3.2"
        "$VENV/bin/python" -m pip install -q -e "$spec"
        touch "$stamp"
    fi
    # The Cython extensions are rebuilt whenever a source under ext/ is newer than its module.
    log "building Cython extensions"
    (cd "$KCORE_ROOT" && "$VENV/bin/python" setup.py -q build_ext --inplace >/dev/null)
}
