"""Run the benchmark scripts in ``bench/`` in turn (what ``make bench`` calls), and
end with the baseline table of ``bench/load.py``.

    .venv/bin/python bench/run.py [--quick] [--timeout SECONDS] [NAME ...]

With names (``service_api``, ``rtc``, ``load``...), only those run. ``--quick``
runs every chosen script with small sizes (seconds per row), and by default
chooses ``load`` alone; without it, every script runs in full. Each script runs
in its own process with this interpreter and is stopped after ``--timeout``
seconds (900); the exit status is non-zero if any of them failed or timed out.
``load`` runs last, and its rows are printed once more at the very end, as one
table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

#: Small sizes for ``--quick`` (seconds, not minutes).
QUICK_ARGS = {
    "cluster": ["--meetings", "10", "--duration", "3"],
    "load": ["--quick"],
    "login_storm": ["--n", "10"],
    "rtc": ["--joins", "50", "--chats", "50"],
    "service_api": ["-n", "50", "--warmup", "10"],
}


def scripts(names: list[str], quick: bool) -> list[Path]:
    found = sorted(
        (p for p in HERE.glob("*.py") if p.name != "run.py" and not p.name.startswith("_")),
        key=lambda p: (p.stem == "load", p.stem),  # the table last
    )
    if not names:
        return [p for p in found if p.stem == "load"] if quick else found
    wanted = {n.removesuffix(".py") for n in names}
    unknown = wanted - {p.stem for p in found}
    if unknown:
        raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))}")
    return [p for p in found if p.stem in wanted]


def run_one(script: Path, args: list[str], timeout_s: float) -> int:
    # This checkout's code, in the script and in the nodes it starts, whatever
    # checkout the virtual environment was installed from.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(HERE.parent / "src"), env.get("PYTHONPATH")])
    )
    proc = subprocess.Popen([sys.executable, str(script), *args], cwd=HERE.parent, env=env)
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


def print_table(path: Path) -> None:
    from bench.load import Row, table

    data = json.loads(path.read_text())
    print("== baseline table (bench/load.py) ==")
    for line in data["header"]:
        print(line)
    for line in table([Row(**r) for r in data["rows"]]):
        print(line)


def main(names: list[str], timeout_s: float, quick: bool) -> int:
    failed: list[str] = []
    t_all = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
        rows = Path(tmp) / "load.json"
        for script in scripts(names, quick):
            args = list(QUICK_ARGS.get(script.stem, [])) if quick else []
            if script.stem == "load":
                args += ["--json", str(rows)]
            print(f"== {script.stem} {' '.join(args)} ==", flush=True)
            t0 = time.monotonic()
            code = run_one(script, args, timeout_s)
            print(f"({script.stem}: exit {code}, {time.monotonic() - t0:.1f} s)\n", flush=True)
            if code != 0:
                failed.append(script.stem)
        if rows.exists():
            print_table(rows)
    print(f"(bench/run.py{' --quick' if quick else ''}: {time.monotonic() - t_all:.0f} s)")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("names", nargs="*", help="benchmarks to run (default: all; --quick: load)")
    ap.add_argument("--quick", action="store_true", help="small sizes: seconds per row")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per script (900)")
    args = ap.parse_args()
    sys.exit(main(args.names, args.timeout, args.quick))
