"""A progress bar on stderr, without a dependency.

The work is counted in steps known up front (a calibration, a round, a
gate); the bar shows the share done, what runs now and an estimate of the
time left. On a terminal it redraws one line; otherwise (a log file, a CI
capture) it writes a plain line only when the topic changes (the label's
first two words: "pools: sequential"), so that a log stays short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 24


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total = max(1, total)
        self.done = 0
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.tty = enabled and self.stream.isatty()
        self.started = time.monotonic()
        self.label = ""
        self._drawn = False

    def step(self, label: str, steps: int = 1) -> None:
        """`steps` more steps are done; `label` says what runs next."""
        self.done = min(self.total, self.done + steps)
        changed = label.split()[:2] != self.label.split()[:2]
        self.label = label
        if self.tty:
            self._draw()
        elif self.enabled and changed:
            self.stream.write(f"[{self._percent():3d}%] {label}\n")
            self.stream.flush()

    def note(self, text: str) -> None:
        """A line of its own (a contender that failed, a budget spent), above the bar."""
        if not self.enabled:
            return
        if self._drawn:
            self.stream.write("\r\x1b[2K")
        self.stream.write(text + "\n")
        if self.tty:
            self._draw()
        else:
            self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False

    def _percent(self) -> int:
        return int(100 * self.done / self.total)

    def _draw(self) -> None:
        fraction = self.done / self.total
        filled = int(WIDTH * fraction)
        elapsed = time.monotonic() - self.started
        eta = ""
        if 0.02 < fraction < 1:
            left = elapsed * (1 - fraction) / fraction
            eta = f" ~{int(left) // 60}:{int(left) % 60:02d} left"
        line = f"[{'#' * filled}{'.' * (WIDTH - filled)}] {self._percent():3d}%{eta}  {self.label}"
        self.stream.write("\r\x1b[2K" + line[:200])
        self.stream.flush()
        self._drawn = True
