"""The machinery every exercise check shares: the registry, the verdict line, number hints.

Checks print one line -- ``✓`` and what the answer shows, or ``✗`` and what is off -- and
return ``True`` or ``False``; a wrong answer never raises (see :mod:`vgan_utils.exercises`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

NOT_YET = "not answered yet: fill in your answer above and run the cell again"
CHECKS: dict[str, Callable[..., bool]] = {}


def _exercise(ex_id: str) -> Callable[[Callable[..., bool]], Callable[..., bool]]:
    """Register a check under its exercise id, so tests can find every exercise's check."""
    def register(fn: Callable[..., bool]) -> Callable[..., bool]:
        CHECKS[ex_id] = fn
        fn.exercise_id = ex_id  # type: ignore[attr-defined]
        return fn
    return register


def _say(ex_id: str, ok: bool, message: str) -> bool:
    """Print the verdict line every check ends with, and return it."""
    print(f"{'✓' if ok else '✗'} exercise {ex_id}: {message}")
    return ok


def _missing(answer: Any) -> bool:
    """An answer the learner has not filled in yet (the cell's ``None`` or ``...``)."""
    return answer is None or answer is Ellipsis


def _as_number(answer: Any) -> float | None:
    """A plain number from an int, float, NumPy scalar or one-element tensor; else None."""
    if isinstance(answer, bool):
        return None
    if isinstance(answer, torch.Tensor):
        return float(answer.item()) if answer.numel() == 1 else None
    if isinstance(answer, np.ndarray):
        return float(answer.item()) if answer.size == 1 else None
    if isinstance(answer, int | float | np.integer | np.floating):
        return float(answer)
    return None


def _number_hint(value: float, reference: float, slips: Mapping[float, str],
                 rel_tol: float = 1e-3, abs_tol: float = 0.0) -> str | None:
    """None when ``value`` matches ``reference``; otherwise what seems to be off.

    ``slips`` maps the ratio value/reference that a known slip produces to its explanation
    (e.g. 2**20 / 10**6 for megabytes instead of mebibytes).
    """
    if math.isclose(value, reference, rel_tol=rel_tol, abs_tol=abs_tol):
        return None
    if math.isnan(value):
        return "your answer is NaN"
    if reference != 0 and math.isclose(value, -reference, rel_tol=rel_tol, abs_tol=abs_tol):
        return "right size, wrong sign"
    if reference != 0:
        ratio = value / reference
        for factor, why in slips.items():
            if math.isclose(ratio, factor, rel_tol=rel_tol):
                return why
        if value != 0 and (abs(ratio) > 1.5 or abs(ratio) < 1 / 1.5):
            return f"off by a factor of {ratio:.4g}"
    return f"{value:.6g} is off by {value - reference:+.3g}"


def _check_number(ex_id: str, name: str, answer: Any, reference: float,
                  slips: Mapping[float, str] | None = None, rel_tol: float = 1e-3,
                  abs_tol: float = 0.0) -> tuple[bool, str]:
    """Compare one numeric answer; returns (ok, the phrase to print about it)."""
    if _missing(answer):
        return False, f"{name}: {NOT_YET}"
    value = _as_number(answer)
    if value is None:
        return False, f"{name} should be a number, got {type(answer).__name__} {answer!r:.60}"
    hint = _number_hint(value, reference, slips or {}, rel_tol, abs_tol)
    return hint is None, f"{name} = {value:.6g}" + ("" if hint is None else f" ({hint})")


def _verdict(ex_id: str, parts: list[tuple[bool, str]], praise: str) -> bool:
    """Print one line for several sub-answers: all right, or what is off in each."""
    if all(ok for ok, _ in parts):
        return _say(ex_id, True, praise)
    if all(NOT_YET in text for _, text in parts):
        return _say(ex_id, False, NOT_YET)
    return _say(ex_id, False, "; ".join(text for _, text in parts))
