"""The automatic step size, from the gradients a solver computes anyway.

Malitsky and Mishchenko's rule ("adaptive gradient descent without
descent") sets each step from the curvature seen between the last two points
where a gradient was taken::

    L_k      = ||g_k - g_{k-1}|| / ||x_k - x_{k-1}||
    lambda_k = min(sqrt(1 + theta_{k-1}) lambda_{k-1}, 1 / (c L_k))
    theta_k  = lambda_k / lambda_{k-1}

``L_k`` measures the curvature along the last move: the Hessian averaged
over the segment from ``x_{k-1}`` to ``x_k``, applied to the move's
direction (``||A d|| / ||d||`` on a quadratic with Hessian ``A`` and move
``d``), at most the Lipschitz constant of the gradient. So the step needs no
evaluation beyond the gradient the solver takes anyway: no line search, no
loss. The first term caps how fast the step may grow, the
second keeps it under the local curvature.

Each step is rounded down to the grid ``2**(j / 1024)`` (at most 0.07%
shorter, which keeps both bounds): the rule divides by gradient
differences, so without it the rounding of the gradients, which changes with
the order of their sums over rows (on a Dask cluster against in memory),
would change every step and be magnified as the moves shrink; on the grid
two such runs take the same steps.

With ``c = 2`` this is the rule of the paper, whose proof gives gradient
descent its ``O(1/k)`` rate on convex objectives with a locally Lipschitz
gradient. An accelerated method feeds it the look-ahead points where it
takes its gradients; ``c = 1`` is then the local form of FISTA's own
condition ``step <= 1 / L`` (what Beck and Teboulle's backtracking accepts),
and needs the solver's adaptive restart as its safeguard: without one it
diverged on three of four small data sets at the default ``alpha`` (see
``docs/solver_measurements.md``, "A free automatic step").

The rule is a :class:`~skmlp._solvers.step_size.StepRule`: its state is its
attributes, plain values (floats, arrays, None), so that a snapshot of the
solver that holds it copies it and a saved model holds it.
"""

import math

import numpy as np

from .._math.reduction import dot
from .step_size import StepRule


class AdaptiveStep(StepRule):
    """Step sizes from consecutive gradients, with no extra evaluation.

    A solver calls :meth:`next_step` once per step (through
    :meth:`~skmlp._solvers.step_size.StepRule.descend`) with the point where it took
    its gradient and that gradient, and moves by the step it returns.

    Parameters
    ----------
    curvature_factor : float, default=2.0
        ``c``: the step is at most ``1 / (c L_k)``, with ``L_k`` the
        curvature seen between the last two gradients. The solver that
        holds the rule sets it (NAG's depends on its restart).
    learning_rate : float, default=0.0
        The step to start from; 0: a probe first.

    Attributes
    ----------
    learning_rate : float
        ``lambda_k``, the last step returned; 0 before the first move (the
        next step is then a probe).
    previous_learning_rate : float
        The step returned before it (0 before), for NAG's momentum.
    growth : float
        ``theta_k = lambda_k / lambda_{k-1}``; infinite before the first
        curvature estimate, so that nothing caps it.
    point, gradient : ndarray or None
        Where the last gradient was taken and that gradient (None before the
        first step and after :meth:`forget`).
    must_remeasure : bool
        The objective may have changed since ``gradient`` was taken (set by
        :meth:`objective_may_have_changed`).
    sampled_rows, rows : str or None
        The sampled and the full fingerprints of the objective of the
        current call (``Objective.fingerprint``; ``''`` for one not taken or
        an objective without fingerprints), by which the next call tells
        whether ``gradient`` is still its own; None until the call's first
        step reads them.
    remeasured_loss : float or None
        The loss at ``point`` on the objective of the last :meth:`remeasure`
        that took the gradient again, None if it did not: the one loss of
        the new objective known before its first step, from which NAG's
        safeguard starts its record.

    Notes
    -----
    The very first step has no curvature to go by: it moves ``point`` by
    ``sqrt(eps) * max(||point||, 1)`` (``eps`` of its dtype), a distance
    short enough for the next gradient difference to measure the curvature
    at the start, long enough to stand above rounding. From the second step
    on, the step is the rule of the module's docstring.

    References
    ----------
    .. [1] Y. Malitsky and K. Mishchenko, "Adaptive gradient descent without
       descent", Proceedings of the 37th International Conference on Machine
       Learning, PMLR 119 (2020), 6702-6712.
    """

    def __init__(self, curvature_factor=2.0, learning_rate=0.0):
        self.curvature_factor = curvature_factor
        self.learning_rate = float(learning_rate)
        self.previous_learning_rate = 0.0
        self.growth = math.inf
        self.point = None
        self.gradient = None
        self.must_remeasure = False
        self.rows = None
        self.sampled_rows = None
        self.remeasured_loss = None

    # For a rule saved before it existed.
    remeasured_loss = None

    def snapshot(self):
        """An independent copy: the last point and gradient, which
        :meth:`next_step` writes into, copied; the rest shared (plain
        values)."""
        clone = super().snapshot()
        if self.point is not None:
            clone.point = self.point.copy()
        if self.gradient is not None:
            clone.gradient = self.gradient.copy()
        return clone

    def steps_ahead(self):
        """The last two steps, ``(s_{k-2}, s_{k-1})``: ``s_k`` comes from the
        gradient at the point the solver builds with them (NAG's momentum
        follows the steps one step late)."""
        return self.previous_learning_rate, self.learning_rate

    def step_along(self, point, gradient, objective):
        """:meth:`remeasure` on ``objective``, then :meth:`next_step`."""
        self.remeasure(objective)
        return self.next_step(point, gradient)

    def next_step(self, point, gradient):
        """The step to move from ``point`` along ``-gradient``; remembers both.

        A gradient that is not finite (or whose change overflows) leaves the
        state as it is and returns the last step, so that the solver moves
        and its caller sees the divergence.
        """
        # Few NumPy calls: on small networks the rule's Python overhead is
        # all it costs, beside the evaluation it needs none of
        # (docs/solver_measurements.md).
        if self.point is None:
            return self._took(self._start(point, gradient))
        moved = _norm(point - self.point)
        turned = _norm(gradient - self.gradient)
        last = self.learning_rate
        if not math.isfinite(turned):
            return self._took(last)
        grown = math.sqrt(1.0 + self.growth) * last
        if moved and turned:
            step = min(grown, moved / (self.curvature_factor * turned))
        else:
            # No curvature seen (no move, or no change in the gradient):
            # only the growth cap holds, and before any cap the step stays.
            step = grown if math.isfinite(grown) else last
        # On separated classes the gradient keeps shrinking, and the step
        # keeps growing with the inverse curvature: it may not pass the
        # largest number of the parameters' dtype (3.4e38 in float32),
        # beyond which it is inf when it multiplies the gradient there.
        step = _capped(step, point.dtype)
        self.growth = step / last
        np.copyto(self.point, point)
        np.copyto(self.gradient, gradient)
        return self._took(step)

    def _took(self, step):
        self.previous_learning_rate = self.learning_rate
        self.learning_rate = step
        return step

    def _start(self, point, gradient):
        """The step with no last point: the last step, or the first probe."""
        gradient_norm = _norm(gradient)
        if not math.isfinite(gradient_norm):
            return self.learning_rate
        step = self.learning_rate
        if not step:
            if gradient_norm == 0.0:
                # A zero gradient: stay, and start when there is a direction.
                return 0.0
            distance = math.sqrt(np.finfo(point.dtype).eps) * max(_norm(point), 1.0)
            # A gradient of 1e-315 (a loss that underflowed to 0, on
            # separated classes) made the probe's step inf, and the move
            # NaN, a divergence of a refit of a perfect model: it is capped
            # as every step is.
            step = _capped(distance / gradient_norm, point.dtype)
        self.point, self.gradient = point.copy(), gradient.copy()
        return step

    def forget(self):
        """Drop the last point and gradient, keep the step.

        A gradient difference across two objectives is not a curvature. The
        next step is then the last one, and the one after it comes from the
        curvature alone.
        """
        self.point = self.gradient = None
        self.growth = math.inf
        self.must_remeasure = False

    def objective_may_have_changed(self):
        """The next gradient may come from another objective (other rows):
        :meth:`remeasure` before the next step."""
        self.must_remeasure = self.point is not None
        if not self.must_remeasure:
            # No gradient to keep: the new objective's fingerprints are only
            # to be read, at the next step.
            self.rows = self.sampled_rows = None

    def remeasure(self, objective):
        """Before a step on ``objective``: if the objective may have changed
        since the last gradient, and it did, take that gradient again on
        ``objective``, at the last point.

        Whether it changed is told by the objectives' fingerprints
        (``Objective.fingerprint``), read once per call: equal ones give
        the same gradient to the bit, so the gradient held is kept, and a
        ``partial_fit`` call on the last call's rows costs what a step of
        ``fit`` does, one gradient. Another objective, or one without
        fingerprints (rows on a Dask cluster), costs one gradient more, once
        per call, and the pair then measures its curvature alone. A
        gradient that is not finite there drops the pair instead.

        The full fingerprint reads every row: it is taken when the sampled
        one cannot tell the objectives apart, and at a call that starts the
        rule (a ``fit``), whose next call may bring the same rows. A loop
        over other rows at every call (chunks) reads a few rows per call.

        Returns
        -------
        same : bool
            Whether the steps before this one were taken on ``objective``
            (as far as the fingerprints tell): False at the first step of a
            call with no gradient to keep, and when the gradient was taken
            again (its loss is then ``remeasured_loss``). NAG's safeguard
            compares losses of the same objective only.
        """
        self.remeasured_loss = None
        if not self.must_remeasure:
            if self.sampled_rows is None:
                # The first step of a call with no gradient to keep.
                self.sampled_rows = _fingerprint(objective, sampled=True)
                self.rows = _fingerprint(objective)
                return False
            return True
        self.must_remeasure = False
        sampled = _fingerprint(objective, sampled=True)
        same = False
        if sampled and sampled == self.sampled_rows:
            rows = _fingerprint(objective)
            same = bool(rows) and rows == self.rows
        else:
            rows = ""
        self.sampled_rows, self.rows = sampled, rows
        if same:
            return True
        loss, gradient = objective.value_and_gradient(self.point)
        if math.isfinite(_norm(gradient)):
            self.gradient = gradient
            self.remeasured_loss = loss
        else:
            self.forget()
        return False


def _fingerprint(objective, sampled=False):
    """The objective's fingerprint; ``''`` (equal to none) if it has none."""
    fingerprint = getattr(objective, "fingerprint", None)
    return (fingerprint(sampled) if fingerprint is not None else None) or ""


# Steps per doubling of the grid the steps are rounded down to.
GRID = 1024


def _on_grid(step):
    """``step`` rounded down to the grid ``2**(j / GRID)``, at most 0.07%
    shorter.

    The rule divides by the change of the gradient, so the rounding of the
    gradients (another order of their sums, as on a Dask cluster) would
    change every step a little, and the steps the iterates: the difference
    grows as the moves shrink. On the grid two runs take the same steps
    unless a step falls within rounding of a grid point. A shorter step
    keeps both of the rule's bounds.
    """
    if not 0.0 < step < math.inf:
        return step
    return 2.0 ** (math.floor(GRID * math.log2(step)) / GRID)


# The largest step for parameters of each dtype (``next_step``): the last
# point of the grid below the dtype's overflow threshold, 2**maxexp.
_LARGEST_STEP = {
    np.dtype(dtype): 2.0 ** ((GRID * np.finfo(dtype).maxexp - 1) / GRID)
    for dtype in (np.float32, np.float64)
}


def _capped(step, dtype):
    """``step`` on the grid, and at most the largest step for parameters
    of ``dtype`` (an inf, from a division by a gradient that underflowed,
    included)."""
    largest = _LARGEST_STEP.get(np.dtype(dtype), math.inf)
    return largest if step >= largest else _on_grid(step)


# The smallest normal float32 number: a sum of squares below it may have
# lost digits to underflow (in float32; float64's are exact down to 2e-308,
# but one threshold for both keeps the check a comparison).
_SMALLEST_NORMAL = float(np.finfo(np.float32).tiny)


def _norm(vector):
    """The Euclidean norm of ``vector``, finite whenever its entries are,
    and zero only when they are.

    Not np.linalg.norm, whose overhead shows on short vectors, nor a sum
    that BLAS may split (dot's docstring); docs/performance.md, "Costs
    behind the code's choices". The sum of squares overflows for entries
    beyond about 1e154 (1e19 in float32), which the gradients of unscaled
    inputs reach: the rule would then take a finite gradient for a
    diverged one and stay at its last step, 0 before the first. It
    underflows for entries below about 1e-162 (1e-23 in float32), which
    the gradients of well separated classes reach: the rule would then see
    no curvature where there is some. Only in those cases is the vector
    scaled by its largest entry first (one more pass).
    """
    squares = dot(vector, vector)
    if _SMALLEST_NORMAL <= squares < math.inf:
        return math.sqrt(squares)
    largest = float(np.max(np.abs(vector)))
    if not 0.0 < largest < math.inf:
        # All entries zero, or one inf or NaN: the norm is that too.
        return largest
    scaled = vector / largest
    return largest * math.sqrt(dot(scaled, scaled))
