"""Evaluate the models that the paper's own code trained, with the paper's own code.

Run from the `src/` folder of a checkout of yashkc2025/low_capacity_nn_behavior after its
`train.py` has run (see README.md beside this file); writes outputs.json: for every model of
the paper's grid, its final validation F1 on the code's own 20% split (its `predict`, threshold
>= 0.5), the last entries of its training history, and sums of its final weights.
"""

import json
import re
import sys
from pathlib import Path

import numpy as np
from helper import load_data, remap_labels  # the paper's code, on sys.path from its src/
from model import BinaryClassifier
from sklearn.metrics import f1_score

NAME = re.compile(r"(?P<pair>\d_and_\d)_lr(?P<lr>[\d.e-]+)_hs(?P<size>\d+)_seed(?P<seed>\d+)\.pkl")

rows = []
for path in sorted(Path("models/training").glob("*.pkl")):
    spec = NAME.fullmatch(path.name)
    pair, size, seed = spec["pair"], int(spec["size"]), int(spec["seed"])
    model = BinaryClassifier.load_model(str(path))
    _, _, x_val, y_val = load_data(pair, seed)
    f1 = f1_score(remap_labels(y_val), model.predict(x_val), zero_division=0)
    rows.append({
        "pair": pair.replace("_and_", "-"), "hidden": size, "seed": seed,
        "lr": float(spec["lr"]), "val_f1_final": float(f1),
        "train_f1_last": float(model.history["f1"][-1]),
        "train_loss_last": float(model.history["loss"][-1]),
        "weight_sums": {k: float(np.sum(getattr(model, k))) for k in ("w_1", "b_1", "w_2", "b_2")},
    })
Path(sys.argv[1]).write_text(json.dumps(rows, indent=1) + "\n")
print(f"{len(rows)} models written to {sys.argv[1]}")
