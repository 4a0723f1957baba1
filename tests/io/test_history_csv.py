"""history.csv is written without pandas, and must read back as the DataFrame pandas would
have written: the same text for the values a history holds."""

from __future__ import annotations

import math
import random

import pandas as pd

from mlpkit.io.history_csv import history_csv


def _value(rng: random.Random, kind: str):
    if rng.random() < 0.15:
        return rng.choice([None, math.nan, "absent"])
    return {
        "int": lambda: rng.randint(-5, 10**6),
        "float": lambda: rng.choice([rng.random(), rng.uniform(-1e9, 1e9), 1e-7, 0.1, 3.0]),
        "bool": lambda: rng.random() < 0.5,
        "text": lambda: rng.choice(["plain", "a,b", 'say "hi"', "two\nlines", ""]),
        "mixed": lambda: rng.choice([1, 2.5, "x", True]),
    }[kind]()


def test_the_text_is_what_pandas_writes_for_every_kind_of_column():
    rng = random.Random(0)
    for _ in range(300):
        kinds = [rng.choice(["int", "float", "bool", "text", "mixed"]) for _ in range(5)]
        rows = []
        for epoch in range(1, rng.randint(1, 12)):
            row = {"epoch": epoch}
            for index, kind in enumerate(kinds):
                value = _value(rng, kind)
                if value != "absent":
                    row[f"c{index}"] = value
            rows.append(row)
        assert history_csv(rows) == pd.DataFrame(rows).to_csv(index=False), rows


def test_a_training_history_round_trips_through_the_file(tmp_path):
    rows = [
        {"epoch": e, "train_loss": 1 / e, "val_accuracy": 0.5 + e / 100, "lr": 1e-3 * 0.9**e}
        for e in range(1, 40)
    ]
    (tmp_path / "history.csv").write_text(history_csv(rows))
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "history.csv"), pd.DataFrame(rows), check_exact=True
    )
