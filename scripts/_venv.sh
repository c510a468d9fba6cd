# shellcheck shell=bash
# Sourced by scripts/test and scripts/up: create .venv (Python 3.11+) and (re)install the pinned
# dependencies of requirements.lock plus the project itself whenever pyproject.toml or the lock changed
# (sha256 stamp kept inside .venv). The lock carries every file's sha256, so pip installs it in
# hash-checking mode (--require-hashes is implied); the project itself is a separate --no-deps step,
# outside that mode. Regenerate the lock with scripts/lock after changing dependencies.
# Expects the current directory to be the repository root.

shixian_python() {
    local c
    for c in python3.11 python3.12 python3.13 python3; do
        if command -v "$c" >/dev/null 2>&1 &&
            "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            command -v "$c"
            return 0
        fi
    done
    echo "未找到 Python 3.11+ / Python 3.11+ not found" >&2
    return 1
}

ensure_venv() {
    local py stamp want have
    if [ ! -x .venv/bin/python ]; then
        py="$(shixian_python)" || return 1
        echo "==> creating .venv with $py"
        "$py" -m venv .venv || return 1
    fi
    stamp=.venv/.shixian-pyproject.sha256
    want="$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)"
    have="$(cat "$stamp" 2>/dev/null || true)"
    if [ "$want" != "$have" ]; then
        echo "==> installing requirements.lock and -e . into .venv (pyproject.toml or the lock changed)"
        .venv/bin/python -m pip install --disable-pip-version-check -q --upgrade pip || return 1
        .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.lock || return 1
        .venv/bin/python -m pip install --disable-pip-version-check -q --no-deps -e . || return 1
        echo "$want" >"$stamp"
    fi
}
