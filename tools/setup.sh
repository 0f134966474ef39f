#!/usr/bin/env bash
# Create the project's virtual environment with a Python >= 3.12 interpreter and the pinned
# dependencies of requirements.lock. Quick when nothing changed: a stamp records what was installed.
set -euo pipefail

venv=${1:-.venv}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

meets() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }

find_python() {
    local c candidates=()
    [ -n "${IL6FIT_PYTHON:-}" ] && candidates+=("$IL6FIT_PYTHON")
    candidates+=(python3.12 python3.13 python3.14 python3)
    local roots=()
    command -v pyenv >/dev/null 2>&1 && roots+=("$(pyenv root)")
    roots+=("${PYENV_ROOT:-$HOME/.pyenv}")
    for r in "${roots[@]}"; do
        # oldest supported first: requirements.lock is resolved on 3.12
        for c in $(ls -d "$r"/versions/3.* 2>/dev/null | sort -V); do
            candidates+=("$c/bin/python3")
        done
    done
    for c in "${candidates[@]}"; do
        if command -v "$c" >/dev/null 2>&1 && meets "$c"; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

stamp="$venv/.il6fit-installed"
want=$(cat pyproject.toml requirements.lock tools/setup.sh | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

if [ ! -x "$venv/bin/python" ] || ! meets "$venv/bin/python"; then
    if ! py=$(find_python); then
        cat >&2 <<'MSG'
il6fit needs Python 3.12 or newer, and none was found (looked at $IL6FIT_PYTHON, python3.12,
python3.13, python3.14, python3 and the pyenv versions). Install one, for example
`pyenv install 3.12` or Debian's `python3.12` package, or point IL6FIT_PYTHON at it.
MSG
        exit 1
    fi
    echo "setup: creating $venv with $py ($("$py" --version))"
    rm -rf "$venv"
    "$py" -m venv "$venv"
fi

echo "setup: installing pinned dependencies from requirements.lock"
pip_install() {
    # Machines with local wheel folders in their pip configuration warn about each missing one.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
pip_install --upgrade pip
pip_install -c requirements.lock -e ".[workflow,cluster,dev]"
echo "$want" >"$stamp"
echo "setup: done ($("$venv/bin/python" --version))"
