"""pytest setup for the parser benchmarks (`pytest benches`).

* Makes `benches/` importable (`import peers`, `import workloads`), and
  `src/` too when hopwire is neither installed nor on PYTHONPATH.
* Defaults for a short run, each applied only when the flag is not given on
  the command line: --benchmark-disable-gc (gc off while timing),
  --benchmark-max-time=0.5, --benchmark-min-rounds=3, --benchmark-min-time=0.00005
  (50 us rounds, so a ~2 us call is looped) and a compact column set.
  Pass the flag yourself to override, e.g. --benchmark-max-time=2.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
try:
    import hopwire  # noqa: F401
except ImportError:
    sys.path.insert(1, str(HERE.parent / "src"))

_DEFAULTS = {
    "--benchmark-disable-gc": ("benchmark_disable_gc", True),
    "--benchmark-max-time": ("benchmark_max_time", 0.5),
    "--benchmark-min-rounds": ("benchmark_min_rounds", 3),
    # Loop each round for >= 50 us, so the timer's own cost is small next to a ~2 us call.
    "--benchmark-min-time": ("benchmark_min_time", 0.00005),
    "--benchmark-columns": ("benchmark_columns", ["min", "median", "max", "ops", "rounds", "iterations"]),
}


def pytest_configure(config):
    # Runs before pytest-benchmark's own (trylast) pytest_configure reads the options.
    if not hasattr(config.option, "benchmark_disable_gc"):
        return  # pytest-benchmark not installed; test_parsers.py will skip
    given = [a.split("=", 1)[0] for a in config.invocation_params.args if isinstance(a, str)]
    for flag, (dest, value) in _DEFAULTS.items():
        if flag not in given:
            setattr(config.option, dest, value)
