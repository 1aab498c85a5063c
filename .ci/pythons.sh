#!/usr/bin/env bash
# The suite on the other Pythons hopwire supports (requires-python >= 3.10), with
# the compiled twin: for each version, a fresh venv, `pip install '.[test]'` (the
# extensions built for that Python), the import check, then the suite with
# HOPWIRE_REQUIRE_EXTENSIONS=1. .ci/run covers the default python3 (3.11).
#
#   .ci/pythons.sh [pytest args...]        e.g. .ci/pythons.sh --durations=20
#
# HOPWIRE_PYTHONS="3.10 3.12 3.13"  the versions (default: those three)
# HOPWIRE_REQUIRE_PYTHONS=1         a version with no interpreter here fails the run
#                                   (by default it prints SKIPPED and does not count)
# HOPWIRE_PYTHONS_WORK=DIR          keep the venvs and logs there (default: a temporary
#                                   directory, removed at the end)
#
# The interpreter is pyenv's ($(pyenv root)/versions/3.X.*, else ~/.pyenv/versions),
# else python3.X on PATH. Each install builds from a clean copy of the work tree
# (tracked and untracked files, not the ignored ones: no build/, no in-place .so of
# another Python), and the suite runs from that copy against the installed package.
# Whatever the test extra holds is installed: nothing here names its packages.
# HOPWIRE_REQUIRE_SERVERS / HOPWIRE_REQUIRE_PEERS pass through from the caller.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VERSIONS=${HOPWIRE_PYTHONS:-3.10 3.12 3.13}
REQUIRE=${HOPWIRE_REQUIRE_PYTHONS:-}
[ "$REQUIRE" = 0 ] && REQUIRE=

if [ -n "${HOPWIRE_PYTHONS_WORK:-}" ]; then
  WORK=$HOPWIRE_PYTHONS_WORK
  mkdir -p "$WORK" || exit 1
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/hopwire-pythons.XXXXXX") || exit 1
  trap 'rm -rf "$WORK"' EXIT
fi

# The builds below must compile the extensions, whatever the caller's environment says.
unset HOPWIRE_NO_EXTENSIONS HOPWIRE_REQUIRE_EXTENSIONS

# The interpreter of Python $1 (e.g. 3.10), or nothing. A pyenv shim on PATH may
# exist for a version that is not installed: every candidate is asked its version.
find_python() {
  local want=$1 root candidates=() c
  root=$(pyenv root 2>/dev/null) || root=
  for d in ${root:+"$root"} "$HOME/.pyenv"; do
    # The newest patch release first (3.10.13 before 3.10.9).
    while IFS= read -r c; do candidates+=("$c"); done < <(
      ls -d "$d"/versions/"$want".*/bin/python"$want" 2>/dev/null | sort -rV)
  done
  c=$(command -v "python$want" 2>/dev/null) && candidates+=("$c")
  for c in "${candidates[@]}"; do
    if [ -x "$c" ] && [ "$("$c" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

# A clean copy of the work tree, as scripts/build_wheels.sh makes one; without git
# (not a checkout), the tree itself.
SRC=$ROOT
if git -C "$ROOT" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  SRC=$WORK/tree
  rm -rf "$SRC" && mkdir -p "$SRC"
  git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$SRC" || { echo "FAILED: copying the work tree"; exit 1; }
fi

status=0
summary=()
for v in $VERSIONS; do
  echo
  echo "== Python $v"
  py=$(find_python "$v") || {
    if [ -n "$REQUIRE" ]; then
      echo "FAILED: no Python $v on this machine (HOPWIRE_REQUIRE_PYTHONS is set)"
      status=1
      summary+=("$v: FAILED (no interpreter)")
    else
      echo "SKIPPED: no Python $v on this machine"
      summary+=("$v: SKIPPED (no interpreter)")
    fi
    continue
  }
  echo "$py: $("$py" --version 2>&1)"
  venv=$WORK/py$v
  rm -rf "$venv"
  start=$SECONDS
  if ! "$py" -m venv "$venv"; then
    echo "FAILED: python$v -m venv"
    status=1; summary+=("$v: FAILED (venv)"); continue
  fi
  log=$WORK/install-$v.log
  if ! (cd "$SRC" && "$venv/bin/python" -m pip install -q '.[test]') > "$log" 2>&1; then
    grep -v 'is ignored: it is neither a file nor a directory' "$log" | tail -40
    echo "FAILED: pip install '.[test]' on Python $v"
    status=1; summary+=("$v: FAILED (install)"); continue
  fi
  installed=$((SECONDS - start))
  echo "installed in ${installed}s"
  # The installed package, compiled: run outside the tree so that src/ cannot be imported.
  if ! (cd "$WORK" && HOPWIRE_REQUIRE_EXTENSIONS=1 "$venv/bin/python" -c '
import sys, hopwire
print("hopwire from", hopwire.__file__, "EXTENSIONS_ACTIVE =", hopwire.EXTENSIONS_ACTIVE,
      "COMPILED_MODULES =", hopwire.COMPILED_MODULES)
sys.exit(0 if "site-packages" in hopwire.__file__ and hopwire.EXTENSIONS_ACTIVE
         and hopwire.COMPILED_MODULES else 1)'); then
    echo "FAILED: import hopwire with its extensions on Python $v"
    status=1; summary+=("$v: FAILED (import)"); continue
  fi
  start=$SECONDS
  (cd "$SRC" && HOPWIRE_REQUIRE_EXTENSIONS=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@")
  rc=$?
  tested=$((SECONDS - start))
  if [ $rc -ne 0 ]; then
    echo "FAILED: the suite on Python $v (pytest exit $rc)"
    status=1; summary+=("$v: FAILED (suite, exit $rc; install ${installed}s, suite ${tested}s)")
  else
    summary+=("$v: passed (install ${installed}s, suite ${tested}s)")
  fi
done

echo
echo "== Pythons"
printf '%s\n' "${summary[@]}"
exit $status
