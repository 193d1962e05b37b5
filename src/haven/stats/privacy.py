"""Differential privacy for published counts: OpenDP noise on one count, and the budget ledger of a period.

Sensitivity is 1 throughout: a person is one case, so adding or removing a person changes any one count by at
most 1. The noise is whole numbers (discrete Laplace, discrete Gaussian): OpenDP samples them exactly from its
cryptographically secure generator, with only the "contrib" feature, so no floating-point sampler (and its
known leaks through rounding) is ever involved. Python's `random` is never used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from opendp.mod import Measurement

Mechanism = Literal["laplace", "gaussian"]
Period = Literal["month", "quarter", "year"]
SENSITIVITY = 1


class NoiseSource(Protocol):
    """Turns a true count into a noisy one; each call spends `epsilon` of the period's budget."""

    @property
    def epsilon(self) -> float: ...

    def noisy(self, count: int) -> int: ...


class OpenDPNoise:
    """OpenDP's measurement for ONE count of sensitivity 1, built once and applied to each count.

    The scale is OpenDP's own calibration, not a formula of ours: `dp.binary_search_param` finds the smallest
    scale whose privacy map OpenDP certifies for an input distance of 1: (1 -> epsilon) for Laplace; for
    Gaussian (1 -> (epsilon, delta)) after `make_zCDP_to_approxDP` (the discrete Gaussian is rho-zCDP,
    converted with CKS20's optimal bound) and `make_fix_delta`. For Laplace that is 1/epsilon, nudged up a
    bit where OpenDP rounds 1/scale upwards; for Gaussian it is tighter than the classic bound
    sqrt(2 ln(1.25/delta))/epsilon, which is only proven for epsilon < 1 and for continuous noise.
    """

    def __init__(self, mechanism: Mechanism, epsilon: float, delta: float | None = None) -> None:
        if mechanism not in ("laplace", "gaussian"):
            raise ValueError(f"mechanism must be 'laplace' or 'gaussian', not {mechanism!r}")
        if not (math.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"epsilon must be a number greater than 0, not {epsilon!r}")
        if mechanism == "gaussian" and (delta is None or not 0 < delta < 1):
            raise ValueError(f"gaussian noise needs a delta between 0 and 1 (exclusive), not {delta!r}")
        if mechanism == "laplace" and delta is not None:
            raise ValueError("laplace noise is pure epsilon-DP: it takes no delta")
        self.mechanism = mechanism
        self.delta = delta
        self._epsilon = epsilon
        self.scale, self._measurement = _calibrate(mechanism, epsilon, delta)

    @property
    def epsilon(self) -> float:
        return self._epsilon

    def noisy(self, count: int) -> int:
        return int(self._measurement(count))


def _calibrate(mechanism: Mechanism, epsilon: float, delta: float | None) -> tuple[float, Measurement]:
    # OpenDP loads a native library (about 100 ms): only a publication with noise should pay for it.
    import opendp.prelude as dp

    dp.enable_features("contrib")
    space = dp.atom_domain(T="i64"), dp.absolute_distance(T="i64")

    d_out: float | tuple[float, float]
    if mechanism == "laplace":
        d_out = epsilon

        def make(scale: float) -> Measurement:
            return dp.m.make_laplace(*space, scale=scale)

    else:
        assert delta is not None  # checked by OpenDPNoise; this tells the type checker
        fixed_delta: float = delta
        d_out = (epsilon, fixed_delta)

        def make(scale: float) -> Measurement:
            zcdp = dp.m.make_gaussian(*space, scale=scale)
            return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(zcdp), delta=fixed_delta)

    scale = dp.binary_search_param(make, d_in=SENSITIVITY, d_out=d_out, T=float)
    measurement = make(scale)
    # The search promises this; checking it costs nothing and guards the one guarantee that matters.
    if not measurement.check(SENSITIVITY, d_out):
        raise RuntimeError(f"OpenDP could not certify {mechanism} noise at {d_out}")
    return scale, measurement


def period_start(day: date, period: Period) -> date:
    """The first day of the budget period holding `day`."""
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


@dataclass(frozen=True)
class Charge:
    """Epsilon spent in a period, and on what (a short label such as "contacted 2026-03": never content)."""

    period_start: date
    epsilon: float
    what: str


class BudgetExhausted(Exception):
    """Spending would take a period past its privacy budget: the figure is not computed, nothing is spent."""


class Budget:
    """The privacy ledger of one period, rebuilt from the charges recorded so far.

    It does not store itself: the caller records `new_charges` (audit log and table) once the figures are
    published. Sums are `math.fsum`, exact to the last bit, so ten charges of 0.1 fit a budget of 1.0.
    """

    def __init__(self, *, period_start: date, total: float, past: Iterable[Charge] = ()) -> None:
        if not (math.isfinite(total) and total > 0):
            raise ValueError(f"a privacy budget must be a number greater than 0, not {total!r}")
        self.period_start = period_start
        self.total = total
        self._spent = [c.epsilon for c in past if c.period_start == period_start]
        self._new: list[Charge] = []

    @property
    def spent(self) -> float:
        return math.fsum(self._spent)

    @property
    def remaining(self) -> float:
        return max(0.0, self.total - self.spent)

    @property
    def new_charges(self) -> tuple[Charge, ...]:
        return tuple(self._new)

    def require(self, epsilon: float, what: str) -> None:
        """Raise BudgetExhausted unless `epsilon` more still fits; records nothing."""
        if not (math.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"a charge must be a number greater than 0, not {epsilon!r}")
        if math.fsum([*self._spent, epsilon]) > self.total:
            raise BudgetExhausted(
                f"privacy budget of the period from {self.period_start.isoformat()} exhausted: {what} asks "
                f"for epsilon {epsilon:g}, only {self.remaining:g} of {self.total:g} is left"
            )

    def charge(self, epsilon: float, what: str) -> None:
        """Spend `epsilon` on `what` before the figure is computed: it stays spent if the figure is hidden."""
        self.require(epsilon, what)
        self._spent.append(epsilon)
        self._new.append(Charge(self.period_start, epsilon, what))
