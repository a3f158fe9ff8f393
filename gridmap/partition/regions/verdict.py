"""What is known about an island left out of band, in one status and one sentence.

Why its own module: the sentence ends up in grid flags, the partition report and the CLI, and a
planner acts on it differently depending on its first words. "proved infeasible: ..." means no
grouping of these atoms (blocks, whole estates, pieces) reaches the band, by arithmetic or by the
exact model, so only changing the inputs (the band, an estate boundary) can help. "heuristic: ..."
means the strategy found nothing better but nothing proves that nothing better exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gridmap.partition.problem import Band
from gridmap.partition.regions.exact import ExactParams, ExactVerdict

IN_BAND = "in_band"
PROVED_INFEASIBLE = "proved_infeasible"
HEURISTIC = "heuristic"


@dataclass(frozen=True)
class IslandFacts:
    """The numbers a verdict is written from."""

    households: int
    atoms: int
    attempts: int
    ks_tried: tuple[int, ...]
    k_fixed: int | None
    violation: float  # households outside the band in the chosen regions


def k_range_of(total: int, band: Band) -> tuple[int, int]:
    """Region counts that fit ``total`` households by the band alone (may be empty: lo > hi)."""
    lo = max(1, math.ceil(total / band.max))
    hi = total // band.min if band.min > 0 else total
    return lo, max(hi, 0)


def verdict_of(
    facts: IslandFacts, exact: ExactVerdict | None, band: Band, *, exact_params: ExactParams | None, windows: bool
) -> tuple[str, str]:
    """Status (PROVED_INFEASIBLE or HEURISTIC) and sentence for an island with regions out of band."""
    total, n, k_fixed = facts.households, facts.atoms, facts.k_fixed
    lo, hi = k_range_of(total, band)
    span = f"{band.min}..{band.max}"
    if k_fixed is None and total < band.min:
        return PROVED_INFEASIBLE, (f"proved infeasible: this connected part has only {total} households, fewer than "
                                   f"the band minimum {band.min}")  # fmt: skip
    if k_fixed is None and lo > hi:
        return PROVED_INFEASIBLE, (f"proved infeasible: {total} households cannot be divided into grids of {span} "
                                   f"(too many for {hi} grid(s), too few for {lo})")  # fmt: skip
    if k_fixed is not None and not lo <= k_fixed <= hi:
        return PROVED_INFEASIBLE, (f"proved infeasible: {k_fixed} grid(s) were requested for {total} households; "
                                   f"grids of {span} need {lo}..{hi}")  # fmt: skip
    if exact is not None and exact.infeasible:
        grids = f"{k_fixed} connected grids" if k_fixed is not None else "connected grids"
        if facts.violation <= exact.lower_bound:
            amount = f"at best {facts.violation:g} households fall outside"
        else:
            amount = (f"at least {exact.lower_bound:g} households must fall outside (the best grouping found leaves "
                      f"{facts.violation:g})")  # fmt: skip
        return PROVED_INFEASIBLE, (f"proved infeasible: no grouping of the {n} atoms of this connected part "
                                   f"({total} households) into {grids} keeps all of them within {span}; {amount} "
                                   "(exact model)")  # fmt: skip
    ks = ", ".join(str(k) for k in facts.ks_tried)
    if exact is None:
        why = "the exact model is switched off"
    elif exact.status == "too_large":
        limits = f"{exact_params.max_atoms} atoms, {exact_params.max_columns} columns" if exact_params else ""
        why = f"the part with its {n} atoms is too large for the exact model as a whole ({limits})"
    else:
        why = f"the exact model stopped at its {exact.status.replace('_', ' ')} before deciding"
    tail = " (exact repair windows around the misses found nothing better)" if windows and exact is not None else ""
    return HEURISTIC, (f"heuristic: {facts.attempts} attempt(s) with k = {ks} left {facts.violation:g} households "
                       f"outside {span}{tail}; {why}")  # fmt: skip
