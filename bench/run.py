"""Run every benchmark script in ``bench/`` in turn (what ``make bench`` calls).

    .venv/bin/python bench/run.py [--timeout SECONDS] [NAME ...]

With names (``service_api``, ``rtc``), only those run. Each script runs in its own
process with this interpreter and is stopped after ``--timeout`` seconds (600);
the exit status is non-zero if any of them failed or timed out.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts(names: list[str]) -> list[Path]:
    found = sorted(
        p for p in HERE.glob("*.py") if p.name != "run.py" and not p.name.startswith("_")
    )
    if not names:
        return found
    wanted = {n.removesuffix(".py") for n in names}
    unknown = wanted - {p.stem for p in found}
    if unknown:
        raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))}")
    return [p for p in found if p.stem in wanted]


def run_one(script: Path, timeout_s: float) -> int:
    proc = subprocess.Popen([sys.executable, str(script)], cwd=HERE.parent)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        print(f"{script.stem}: no result after {timeout_s:.0f} s, stopping it", file=sys.stderr)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 124
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        raise


def main(names: list[str], timeout_s: float) -> int:
    failed: list[str] = []
    for script in scripts(names):
        print(f"== {script.stem} ==", flush=True)
        t0 = time.monotonic()
        code = run_one(script, timeout_s)
        print(f"({script.stem}: exit {code}, {time.monotonic() - t0:.1f} s)\n", flush=True)
        if code != 0:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per script (600)")
    args = ap.parse_args()
    sys.exit(main(args.names, args.timeout))
