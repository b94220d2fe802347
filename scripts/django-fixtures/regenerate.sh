#!/usr/bin/env bash
# Regenerate (default) or verify (--check) tests/fixtures/django/ with the
# pinned Django in a private virtualenv. Extra arguments go to generate.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${DJFX_VENV:-${TMPDIR:-/tmp}/signgate-django-fixtures-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
exec "$venv/bin/python" "$here/generate.py" "$@"
