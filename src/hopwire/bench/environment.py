"""What a benchmark ran on: machine, OS, Python, hopwire's twin, and the load around it.

Numbers from a benchmark mean little without this: the report prints it first
and the JSON keeps it, so that a table pasted in a README names its machine.
"""

from __future__ import annotations

import os
import platform
from typing import Any

from .. import COMPILED_MODULES, EXTENSIONS_ACTIVE, __version__


def machine() -> dict[str, Any]:
    """CPU model (from /proc/cpuinfo when there is one), CPU counts and OS."""
    info: dict[str, Any] = {"cpu": "", "logical_cpus": os.cpu_count()}
    cores: set[tuple[str | None, str]] = set()
    try:
        phys: str | None = None
        core: str | None = None
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and not info["cpu"]:
                    info["cpu"] = value
                elif key == "physical id":
                    phys = value
                elif key == "core id":
                    core = value
                elif not key and core is not None:  # a blank line ends one processor
                    cores.add((phys, core))
                    phys = core = None
        if core is not None:
            cores.add((phys, core))
    except OSError:
        pass
    info["cpu"] = info["cpu"] or platform.processor() or platform.machine()
    if cores:
        info["physical_cores"] = len(cores)
    if hasattr(os, "sched_getaffinity"):
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    info["os"] = f"{platform.system()} {platform.release()} {platform.machine()}"
    return info


def describe_machine(m: dict[str, Any]) -> str:
    cpus = f"{m['logical_cpus']} logical CPUs"
    if "physical_cores" in m:
        cpus += f" / {m['physical_cores']} cores"
    if m.get("usable_cpus") not in (None, m["logical_cpus"]):
        cpus += f", {m['usable_cpus']} usable"
    return f"{m['cpu']}, {cpus}, {m['os']}"


def hopwire_info() -> dict[str, Any]:
    return {"version": __version__, "extensions_active": EXTENSIONS_ACTIVE,
            "compiled_modules": list(COMPILED_MODULES),
            "HOPWIRE_NO_EXTENSIONS": os.environ.get("HOPWIRE_NO_EXTENSIONS", "")}


def describe_twin(hw: dict[str, Any]) -> str:
    twin = "C extension" if hw["extensions_active"] else "pure Python"
    if not hw["extensions_active"]:
        twin += (" (HOPWIRE_NO_EXTENSIONS set)" if hw["HOPWIRE_NO_EXTENSIONS"] not in ("", "0")
                 else " (extension not built)")
    core = "compiled" if hw.get("compiled_modules") else "Python"
    return f"{twin} [hopwire.EXTENSIONS_ACTIVE = {hw['extensions_active']}]; pool core: {core}"


def environment() -> dict[str, Any]:
    doc: dict[str, Any] = {
        "machine": machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "hopwire": hopwire_info(),
    }
    if hasattr(os, "getloadavg"):
        doc["load_before"] = os.getloadavg()[0]
    return doc


def cpu_busy_s() -> float | None:
    """Seconds of CPU used by everything on the machine so far (Linux /proc/stat), or None.

    With the benchmark's own CPU and the server's taken away, what remains is
    what other processes took from the run: the report says how much.
    """
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
