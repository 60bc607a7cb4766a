"""The CI suite (`make test`): every test file in its own pytest process, two at a time.

One process that compiles the whole suite's XLA programs (thousands) has crashed inside
XLA:CPU's compiler (a segfault in `backend_compile_and_load`, stops 18 and 19, in the late
sampler tests; each file alone passes). A process per file bounds what one process compiles, and
two at a time use both cores. Each file's pytest output is printed when it ends, and a last line
sums them up: `N passed, N failed, N skipped` (a crashed file counts as failed). Exit status 0 only
when every file passed. Arguments are passed to every pytest call (e.g. `-m slow`).

    python tests/run_suite.py [pytest args]
"""

from __future__ import annotations

import concurrent.futures
import glob
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ("tests/test_*.py", "benchmarks/tests/test_*.py")
COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|deselected|xfailed|xpassed)")


def test_files() -> list[str]:
    """Every test file, the slowest first (by size) so that the two workers end together."""
    files = [f for pattern in FILES for f in glob.glob(os.path.join(ROOT, pattern))]
    return sorted(files, key=lambda f: -os.path.getsize(f))


def run_file(path: str, args: list[str], env: dict) -> tuple[str, int, str, float]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", os.path.relpath(path, ROOT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    return path, proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start


def tally(output: str) -> dict:
    """The counts of pytest's closing line (the last line that has any)."""
    for line in reversed(output.strip().splitlines()):
        found = COUNT.findall(line)
        if found:
            return {("error" if k.startswith("error") else k): int(n) for n, k in found}
    return {}


def main(args: list[str]) -> int:
    env = dict(os.environ)
    # one cache for every process: the digits classifier is trained once, not once per file
    env.setdefault("DIFFJAX_CACHE_DIR", tempfile.mkdtemp(prefix="diffjax-test-cache-"))
    totals, bad, start = {}, [], time.perf_counter()
    workers = int(os.environ.get("DIFFJAX_TEST_WORKERS", "2"))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        jobs = [pool.submit(run_file, f, args, env) for f in test_files()]
        for job in concurrent.futures.as_completed(jobs):
            path, code, output, seconds = job.result()
            counts = tally(output)
            name = os.path.relpath(path, ROOT)
            print(f"===== {name} (exit {code}, {seconds:.0f} s)\n{output.rstrip()}\n", flush=True)
            if code not in (0, 5):  # 5: every test of the file deselected
                bad.append(name)
                if not counts.get("failed") and not counts.get("error"):
                    counts["failed"] = counts.get("failed", 0) + 1  # crashed before its summary
            for k, n in counts.items():
                totals[k] = totals.get(k, 0) + n
    print(f"files that failed: {', '.join(bad) if bad else 'none'}")
    print(f"wall time {time.perf_counter() - start:.0f} s over {len(jobs)} files")
    summary = f"{totals.get('passed', 0)} passed, {totals.get('failed', 0) + totals.get('error', 0)} failed"
    if totals.get("skipped"):
        summary += f", {totals['skipped']} skipped"
    print(summary)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
