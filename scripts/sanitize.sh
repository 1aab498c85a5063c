#!/usr/bin/env bash
# The C twin under AddressSanitizer and UndefinedBehaviorSanitizer.
#
# Builds hopwire._wire.parser_c with HOPWIRE_SANITIZE=1 (setup.py adds
# -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
# into build/sanitize/<variant>/, beside a copy of the pure-Python package, so the
# checkout's own extension is never replaced. Then, with libasan preloaded (the
# interpreter is not built with it) and PYTHONMALLOC=malloc (every Python object its own
# malloc block, so an overrun past a bytes object's end lands in a red zone):
#
#   1. the test suite (tests/, or the paths given as arguments) with the C twin required;
#   2. the fuzz seeds (fuzz/corpus, the llhttp conformance cases, and build/fuzz/corpus
#      when a local atheris run grew one) through fuzz/fuzz_parser.py --replay;
#   3. a longer hypothesis differential run (HOPWIRE_FUZZ_EXAMPLES, default 1000).
#
# Two variants of the scanner are built: "sse2" (the default on x86-64) and "portable"
# (-U__SSE2__: the word-at-a-time SWAR path that other CPUs take). The portable variant
# runs the parser tests and the fuzz seeds only; SANITIZE_VARIANTS=sse2 skips it.
#
# Usage:   scripts/sanitize.sh                     # everything, ~10 minutes on 2 cores
#          scripts/sanitize.sh tests/wire/test_smuggling.py tests/wire/test_fuzz_differential.py
# Env:     PYTHON (default .venv/bin/python), SANITIZE_VARIANTS ("sse2 portable"),
#          HOPWIRE_FUZZ_EXAMPLES (1000), SANITIZE_SKIP_SUITE=1 (seeds and fuzzing only).
# A sanitizer report aborts the process: pytest then dies with the report on stderr, and
# this script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
VARIANTS=${SANITIZE_VARIANTS:-sse2 portable}
EXAMPLES=${HOPWIRE_FUZZ_EXAMPLES:-1000}
TESTS=("$@")
[ ${#TESTS[@]} -eq 0 ] && TESTS=(tests)
PARSER_TESTS=(tests/wire/test_parser_requests.py tests/wire/test_parser_responses.py
              tests/wire/test_differential.py tests/wire/test_smuggling.py
              tests/wire/test_fuzz_differential.py tests/wire/test_limits.py
              tests/wire/test_conformance.py tests/wire/test_trickle.py tests/wire/test_hop_by_hop.py
              tests/wire/test_leaks.py tests/test_guard.py tests/wire/test_byte_classes.py)

LIBASAN=$(${CC:-gcc} -print-file-name=libasan.so)
[ -e "$LIBASAN" ] || { echo "libasan not found (apt-get install libasan8 / gcc)"; exit 2; }
# libstdc++ too: ASan intercepts __cxa_throw, and a C++ extension that a test imports
# (matplotlib's) would throw through an interceptor with nothing behind it.
PRELOAD="$LIBASAN $(${CC:-gcc} -print-file-name=libstdc++.so)"

build() {  # build <variant> <cflags>: the sanitized extension plus the package's Python files
    local out=build/sanitize/$1
    rm -rf "$out"
    mkdir -p "$out/lib"
    HOPWIRE_SANITIZE=1 HOPWIRE_CFLAGS="$2" "$PYTHON" setup.py -q build_ext \
        --build-lib "$out/lib" --build-temp "$out/tmp" >"$out/build.log" 2>&1 \
        || { cat "$out/build.log"; exit 1; }
    (cd src && find hopwire -name '*.py' -o -name 'py.typed' -o -name '*.template') \
        | while read -r f; do mkdir -p "$out/lib/$(dirname "$f")"; cp "src/$f" "$out/lib/$f"; done
    echo "$PWD/$out/lib"
}

run() {  # run <lib> <command...>: under the sanitizers, with the sanitized package first
    local lib=$1; shift
    # Reports go to files as well as stderr: pytest captures a test's stderr, and a
    # process that aborts takes the captured report with it.
    LD_PRELOAD="$PRELOAD" PYTHONMALLOC=malloc PYTHONPATH="$lib:tests" \
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1:log_path=$reports/asan" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan" \
    HOPWIRE_REQUIRE_EXTENSIONS=1 "$@"
}

show_reports() {  # print and count what the sanitizers wrote; non-zero if anything
    local found=0
    for f in "$reports"/asan.* "$reports"/ubsan.*; do
        [ -e "$f" ] || continue
        echo "---- $f"; cat "$f"; found=1
    done
    return $found
}

seeds=build/sanitize/seeds
rm -rf "$seeds"
"$PYTHON" fuzz/fuzz_parser.py --seeds "$seeds" >/dev/null
[ -d build/fuzz/corpus ] && cp build/fuzz/corpus/* "$seeds"/ 2>/dev/null || true

status=0
for variant in $VARIANTS; do
    case $variant in
        sse2) cflags="-O1" ;;
        portable) cflags="-O1 -U__SSE2__" ;;
        *) echo "unknown variant $variant"; exit 2 ;;
    esac
    echo "== [$variant] building with ASan+UBSan ($cflags)"
    lib=$(build "$variant" "$cflags")
    reports=$PWD/build/sanitize/$variant/reports
    mkdir -p "$reports"
    run "$lib" "$PYTHON" -c "
import hopwire._wire.parser_c as c, sys
assert c.__file__.startswith('$lib'), c.__file__
print('   loaded', c.__file__)"
    # The sanitizers are live: an overrun through an intercepted libc call must abort.
    if run "$lib" "$PYTHON" -c "
import ctypes
small, large = ctypes.create_string_buffer(4096), ctypes.create_string_buffer(8192)
ctypes.memmove(large, small, 8192)" 2>"build/sanitize/$variant/selfcheck.log"; then
        echo "AddressSanitizer did not catch a deliberate overrun: not running under ASan"; exit 2
    fi
    grep -q "AddressSanitizer" "$reports"/asan.* \
        || { echo "no ASan report for the deliberate overrun in $reports"; exit 2; }
    rm -f "$reports"/*
    if [ "${SANITIZE_SKIP_SUITE:-0}" = 0 ]; then
        if [ "$variant" = sse2 ]; then targets=("${TESTS[@]}"); else targets=("${PARSER_TESTS[@]}"); fi
        echo "== [$variant] pytest ${targets[*]}"
        run "$lib" "$PYTHON" -m pytest -q -p no:cacheprovider "${targets[@]}" || status=1
    fi
    echo "== [$variant] fuzz seeds: $(ls "$seeds" | wc -l) inputs"
    run "$lib" "$PYTHON" fuzz/fuzz_parser.py --replay "$seeds"/* | tail -1 || status=1
    echo "== [$variant] hypothesis differential fuzzing, $EXAMPLES examples per property"
    HOPWIRE_FUZZ_EXAMPLES=$EXAMPLES run "$lib" "$PYTHON" -m pytest -q -p no:cacheprovider \
        tests/wire/test_fuzz_differential.py tests/wire/test_differential.py || status=1
    echo "== [$variant] sanitizer reports"
    if show_reports; then echo "   none"; else status=1; fi
done
exit $status
