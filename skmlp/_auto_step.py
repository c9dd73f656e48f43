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

With ``c = 2`` this is the rule of the paper, whose proof gives gradient
descent its ``O(1/k)`` rate on convex objectives with a locally Lipschitz
gradient. An accelerated method feeds it the look-ahead points where it
takes its gradients; ``c = 1`` is then the local form of FISTA's own
condition ``step <= 1 / L`` (what Beck and Teboulle's backtracking accepts),
and needs the solver's adaptive restart as its safeguard: without one it
diverged on three of four small data sets at the default ``alpha`` (see
``docs/auto_step_measurements.md``).
"""

import math

import numpy as np


class AdaptiveStep:
    """Step sizes from consecutive gradients, with no extra evaluation.

    A solver calls :meth:`next_step` once per step with the point where it
    took its gradient and that gradient, and moves by the step it returns.

    Parameters
    ----------
    curvature_factor : float, default=2.0
        ``c``: the step is at most ``1 / (c L_k)``, with ``L_k`` the
        curvature seen between the last two gradients.

    Attributes
    ----------
    step : float or None
        ``lambda_k``, the last step returned (None before the first).
    growth : float
        ``theta_k = lambda_k / lambda_{k-1}``; infinite before the first
        curvature estimate, so that nothing caps the first one.
    point : ndarray or None
        Where the last gradient was taken (None before the first step and
        after :meth:`forget`).
    gradient : ndarray or None
        The last gradient.

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

    def __init__(self, curvature_factor=2.0):
        self.curvature_factor = curvature_factor
        self.step = None
        self.growth = math.inf
        self.point = None
        self.gradient = None

    def next_step(self, point, gradient):
        """The step to move from ``point`` along ``-gradient``; remembers both.

        A gradient that is not finite (or whose change overflows) leaves the
        state as it is and returns the last step, so that the solver moves
        and its caller sees the divergence.
        """
        # Few NumPy calls: on small networks the rule's Python overhead is
        # what it costs (docs/auto_step_measurements.md).
        if self.point is None:
            return self._start(point, gradient)
        moved = _norm(point - self.point)
        turned = _norm(gradient - self.gradient)
        if not math.isfinite(turned):
            return self.step
        grown = math.sqrt(1.0 + self.growth) * self.step
        if moved and turned:
            step = min(grown, moved / (self.curvature_factor * turned))
        else:
            # No curvature seen (no move, or no change in the gradient):
            # only the growth cap holds, and before any cap the step stays.
            step = grown if math.isfinite(grown) else self.step
        self.growth = step / self.step
        self.step = step
        np.copyto(self.point, point)
        np.copyto(self.gradient, gradient)
        return step

    def _start(self, point, gradient):
        """The step with no last point: the last step, or the first probe."""
        gradient_norm = _norm(gradient)
        if not math.isfinite(gradient_norm):
            return 0.0 if self.step is None else self.step
        if self.step is None:
            if gradient_norm == 0.0:
                # A zero gradient: stay, and start when there is a direction.
                return 0.0
            distance = math.sqrt(np.finfo(point.dtype).eps) * max(_norm(point), 1.0)
            self.step = distance / gradient_norm
        self.point, self.gradient = point.copy(), gradient.copy()
        return self.step

    def forget(self):
        """Drop the last point and gradient, keep the step.

        For when the objective changes (new rows): a gradient difference
        across two objectives is not a curvature. The next step is then the
        last one, and the one after it comes from the curvature alone.
        """
        self.point = self.gradient = None
        self.growth = math.inf

    def snapshot(self):
        """An independent copy of the state."""
        clone = AdaptiveStep(self.curvature_factor)
        clone.step, clone.growth = self.step, self.growth
        if self.point is not None:
            clone.point, clone.gradient = self.point.copy(), self.gradient.copy()
        return clone


def _norm(vector):
    # np.linalg.norm costs several times this on short vectors.
    return math.sqrt(float(np.dot(vector, vector)))
