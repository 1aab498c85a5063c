#!/usr/bin/env bash
# The C twin under valgrind memcheck, on a short corpus.
#
# Builds hopwire._wire.parser_c with -O1 -g (no sanitizers: valgrind instruments the machine
# code itself) into build/valgrind/, beside a copy of the pure-Python package, then runs
# fuzz/fuzz_parser.py --replay over the seeds in fuzz/corpus/ plus every SAMPLE-th llhttp
# conformance case, whole and cut, under memcheck with PYTHONMALLOC=malloc (so that each
# Python object is a block memcheck can see). Any invalid read or write, use of an
# uninitialised value, or block definitely lost is an error: the script exits non-zero.
#
# Usage:  scripts/valgrind.sh               # ~2-4 minutes on 2 cores
#         scripts/valgrind.sh FILE...       # replay these inputs instead
# Env:    PYTHON (default .venv/bin/python), SAMPLE (default 4)
# Needs:  valgrind (apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
SAMPLE=${SAMPLE:-4}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 2; }

out=build/valgrind
rm -rf "$out"
mkdir -p "$out/lib" "$out/seeds"
HOPWIRE_CFLAGS="-O1 -g" "$PYTHON" setup.py -q build_ext --build-lib "$out/lib" \
    --build-temp "$out/tmp" >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
(cd src && find hopwire -name '*.py' -o -name 'py.typed' -o -name '*.template') \
    | while read -r f; do mkdir -p "$out/lib/$(dirname "$f")"; cp "src/$f" "$out/lib/$f"; done

if [ $# -gt 0 ]; then
    inputs=("$@")
else
    "$PYTHON" fuzz/fuzz_parser.py --seeds "$out/all" >/dev/null
    i=0
    for f in "$out"/all/llhttp-*; do
        [ $((i++ % SAMPLE)) -eq 0 ] && cp "$f" "$out/seeds/"
    done
    cp fuzz/corpus/* "$out/seeds/"
    rm -f "$out/seeds/"*.md
    inputs=("$out"/seeds/*)
fi
echo "== valgrind memcheck: self-check (a deliberate overrun must be reported)"
if PYTHONMALLOC=malloc valgrind --tool=memcheck --error-exitcode=99 --log-file="$out/selfcheck.log" \
    --suppressions=scripts/valgrind-python.supp "$PYTHON" -c "
import ctypes
small, large = ctypes.create_string_buffer(4096), ctypes.create_string_buffer(8192)
ctypes.memmove(large, small, 8192)" 2>/dev/null \
    || ! grep -q "Invalid read" "$out/selfcheck.log"; then
    echo "memcheck did not report a deliberate overrun: see $out/selfcheck.log"; exit 2
fi
echo "== valgrind memcheck over ${#inputs[@]} inputs"

set +e
PYTHONMALLOC=malloc PYTHONPATH="$PWD/$out/lib:tests" HOPWIRE_REQUIRE_EXTENSIONS=1 \
valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --track-origins=yes --num-callers=30 \
    --suppressions=scripts/valgrind-python.supp --log-file="$out/memcheck.log" \
    "$PYTHON" -X faulthandler -c "
import sys
sys.argv = ['fuzz_parser.py', '--replay', *sys.argv[1:]]
import hopwire._wire.parser_c as c
assert c.__file__.startswith('$PWD/$out/lib'), c.__file__
sys.path.insert(0, 'fuzz')
import fuzz_parser
sys.exit(fuzz_parser.main(sys.argv))" "${inputs[@]}" | tail -1
status=${PIPESTATUS[0]}
set -e
grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$out/memcheck.log" | tail -3
if grep -qE "^==[0-9]+== +(at|by) 0x.*(_parser_c|__pyx_)" "$out/memcheck.log"; then
    echo "memcheck reports frames in hopwire._wire.parser_c: see $out/memcheck.log"; status=1
fi
exit "$status"
