"""pytest setup for the benchmarks (`pytest benches`).

* Makes `hopwire.bench` importable (`_checkout.py`): the installed hopwire
  when it has it, else the checkout's `src/`.
* Defaults for a short run, each applied only when the flag is not given on
  the command line: --benchmark-disable-gc (gc off while timing),
  --benchmark-max-time=0.5, --benchmark-min-rounds=3, --benchmark-min-time=0.00005
  (50 us rounds, so a ~2 us call is looped) and a compact column set.
  Pass the flag yourself to override, e.g. --benchmark-max-time=2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _checkout  # noqa: E402,F401  (hopwire.bench: installed, else the checkout's src/)

_DEFAULTS = {
    "--benchmark-disable-gc": ("benchmark_disable_gc", True),
    "--benchmark-max-time": ("benchmark_max_time", 0.5),
    "--benchmark-min-rounds": ("benchmark_min_rounds", 3),
    # Loop each round for >= 50 us, so the timer's own cost is small next to a ~2 us call.
    "--benchmark-min-time": ("benchmark_min_time", 0.00005),
    "--benchmark-columns": ("benchmark_columns", ["min", "median", "max", "ops", "rounds", "iterations"]),
}


def pytest_configure(config: Any) -> None:
    # Runs before pytest-benchmark's own (trylast) pytest_configure reads the options.
    if not hasattr(config.option, "benchmark_disable_gc"):
        return  # pytest-benchmark not installed; the benchmark files skip
    given = [a.split("=", 1)[0] for a in config.invocation_params.args if isinstance(a, str)]
    for flag, (dest, value) in _DEFAULTS.items():
        if flag not in given:
            setattr(config.option, dest, value)
