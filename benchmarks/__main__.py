"""Run the benchmark scenarios and print one ratio table per scenario.

Usage: ``python -m benchmarks [s1_s4_memory ...]`` (default: all). Results also go to
``bench-results/*.json``.
"""

from __future__ import annotations

import importlib
import sys

SCENARIOS = ["s1_s4_memory", "s2_hdf5", "s3_files", "s3_inventory", "s5_adapters", "s6_transforms", "memory_rss"]


def main(argv: list[str]) -> int:
    names = argv or SCENARIOS
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        for text in module.main():
            print(text, flush=True)
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
