"""What a run's preprocessing did, in a few lines for the end-of-run summary: missing values
filled, categories unseen in training, the numeric scaling and the target's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .levels import MISSING_LEVEL, OTHER_LEVEL

if TYPE_CHECKING:
    from .prepare import PreparedData


def preprocessing_summary(prepared: PreparedData) -> list[tuple[str, str]]:
    """``(label, text)`` rows, e.g. ``("missing values filled", "12 in 2 columns (median, ...)")``.

    >>> preprocessing_summary(prepare_data(RunConfig()))  # doctest: +SKIP
    [('numeric scaling', 'robust'), ...]
    """
    p = prepared.preprocessor
    rows = [("numeric scaling", p.scaling if p.standardize else "none (--no-normalize)")]
    if p.imputes:
        total = sum(sum(counts.values()) for counts in prepared.filled.values())
        columns = sorted({c for counts in prepared.filled.values() for c in counts})
        if total:
            parts = ", ".join(
                f"{part} {sum(n.values())}" for part, n in prepared.filled.items() if n
            )
            how = f"numbers: {p.impute}"
            if p.indicators_:
                how += f" + a missing-value input ({len(p.indicators_)} column(s))"
            if any(MISSING_LEVEL in levels for levels in p.categories_.values()):
                how += f"; categories: {MISSING_LEVEL}"
            text = f"{total} in {len(columns)} column(s) ({parts}): {how}"
        else:
            text = "none (there were none)"
        rows.append(("missing values filled", text))
    else:
        rows.append(("missing values filled", "none (--impute none: refused)"))
    unknown = {part: sum(n.values()) for part, n in prepared.unknown.items() if n}
    if p.categories_:
        capped = [c for c, levels in p.categories_.items() if OTHER_LEVEL in levels]
        if unknown:
            parts = ", ".join(f"{part} {n}" for part, n in unknown.items())
            where = "(other) or all-zero" if capped else "all-zero indicators"
            rows.append(("unseen categories", f"{sum(unknown.values())} ({parts}) -> {where}"))
        else:
            rows.append(("unseen categories", "none"))
        if capped:
            rows.append(
                ("categories capped", f"{', '.join(capped)}: {p.max_levels - 1} + {OTHER_LEVEL}")
            )
    if prepared.source.task == "regression":
        rows.append(("target", "standardised" if prepared.target_scaler else "raw"))
    return rows
