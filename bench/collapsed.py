"""Summarise py-spy collapsed stacks: self and inclusive share of each function.

.venv/bin/python bench/collapsed.py profile.txt [N]
"""

from __future__ import annotations

import collections
import sys

path, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 30
own: collections.Counter[str] = collections.Counter()
incl: collections.Counter[str] = collections.Counter()
total = 0
for line in open(path):
    stack, _, count = line.rstrip().rpartition(" ")
    c = int(count)
    total += c
    frames = [f.split(" (")[0] + " " + f.rsplit("/", 1)[-1].rstrip(")") for f in stack.split(";")]
    own[frames[-1]] += c
    for f in set(frames):
        incl[f] += c
print(f"{total} samples")
print("--- self")
for f, c in own.most_common(n):
    print(f"{100 * c / total:5.1f} %  {f}")
print("--- inclusive")
for f, c in incl.most_common(n):
    print(f"{100 * c / total:5.1f} %  {f}")
