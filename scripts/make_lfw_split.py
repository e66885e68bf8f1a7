"""Write the identity-disjoint validation split of lfw-expressions (run once; the file is committed)."""

import csv
import sys
from collections import Counter
from pathlib import Path

import numpy as np

labels = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/lfw-expressions/labels.csv")
counts = Counter(row["identity"] for row in csv.DictReader(open(labels)) if row["identity"])
names = sorted(counts)
order = np.random.default_rng(2018).permutation(len(names))
target, held, chosen = 0.10 * sum(counts.values()), 0, []
for i in order:
    name = names[i]
    if counts[name] <= 20 and held < target:
        chosen.append(name)
        held += counts[name]
out = Path(__file__).resolve().parents[1] / "expnet" / "splits" / "lfw_expressions_val_identities.txt"
out.write_text("\n".join(sorted(chosen)) + "\n")
print(f"{len(chosen)} identities, {held} of {sum(counts.values())} images -> {out}")
