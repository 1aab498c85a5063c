"""Imported first by the files in benches/: makes `import hopwire.bench` work.

The installed hopwire is used when it has the bench subpackage (after
`pip install '.[bench]'` it also has the compiled parser). Otherwise -- not
installed, or an install older than `hopwire.bench` -- the checkout's src/
is put first on sys.path and hopwire is imported from there.
"""

from __future__ import annotations

import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parent.parent / "src")

try:
    import hopwire.bench  # noqa: F401
except ImportError:
    for name in [m for m in sys.modules if m == "hopwire" or m.startswith("hopwire.")]:
        del sys.modules[name]
    sys.path.insert(0, SRC)
    import hopwire.bench  # noqa: F401
