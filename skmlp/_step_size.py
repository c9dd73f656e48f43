"""Step rules: how far a solver moves along minus the gradient.

A step rule is fixed (``learning_rate`` a float), a backtracking search on
the Lipschitz constant of the gradient (``learning_rate='auto'``): Beck and
Teboulle's sufficient decrease, with the step allowed to grow again at every
step (Scheinberg, Goldfarb and Bai's FISTA with full backtracking) so that
it can follow a curvature that falls as training goes on; or Malitsky and
Mishchenko's adaptive step from consecutive gradients
(``learning_rate='adaptive'``, :mod:`skmlp._auto_step`), which costs no
evaluation but needs the same objective at every step. The estimator's
``learning_rate_init='auto'`` is the adaptive step on the full batch and
backtracking on mini-batches (:func:`skmlp._solvers.make_solver`).

A solver composes one rule with its own update: it holds a :class:`StepSize`
and asks it for the step. The rule's state is plain values (the step in use,
how the next search starts), so that a solver's snapshot copies it and a
saved model holds it.
"""

import math

import numpy as np

from ._auto_step import AdaptiveStep, new_adaptive_state
from ._execution import dot

# Backtracking: the first trial step, the factor by which a step is grown or
# shrunk, and how many shrinks are tried before giving up: 2**-64 times a
# step is far below any step that could matter.
INITIAL_STEP = 1.0
STEP_FACTOR = 2.0
MAX_SEARCH = 64
# The objective is a sum of many rounded terms: a decrease smaller than a few
# hundred ulps of the loss is noise, and demanding it would shrink the step
# for nothing near a minimum (where the decrease asked for is that small).
ROUNDING_ULPS = 256


def diverged(loss, gradient):
    """Whether the loss or the gradient is not finite."""
    return not (math.isfinite(loss) and np.isfinite(gradient).all())


def try_step(point, loss, gradient, objective, step):
    """``(accepted, point - step * g, its loss)`` for one trial step.

    Accepted when the sufficient decrease of Beck and Teboulle holds::

        L(point - s g) <= L(point) - s / 2 * ||g||^2

    which it does for every ``s <= 1 / Lipschitz(grad L)``.
    """
    new_point = point - step * gradient
    new_loss = objective.value(new_point)
    decrease = 0.5 * step * dot(gradient, gradient)
    tolerance = ROUNDING_ULPS * float(np.finfo(point.dtype).eps) * abs(loss)
    # A NaN new_loss compares False: the step is rejected.
    return new_loss <= loss - decrease + tolerance, new_point, new_loss


def no_step_found(step):
    """The error of a search that found no decrease.

    The sufficient decrease holds for every step up to the inverse of the
    gradient's Lipschitz constant, so a search that went down to ``step``
    in vain met a wrong gradient, or rounding, or a curvature above
    ``1 / step``: on a right gradient, what a huge alpha (or sample weights
    of a tiny sum, which divides it) or unscaled features give.
    """
    # A step halved down to 0 (from a subnormal one) bounds no curvature;
    # dividing by it would raise a ZeroDivisionError in place of this error.
    curvature = 1 / step if step > 0 else math.inf
    return ValueError(
        "The backtracking line search found no step that decreases the "
        f"objective (last step tried: {step:.3g}); its gradient is wrong or "
        "not accurate enough in this floating-point precision, or its "
        f"curvature is above {curvature:.3g}: scale the input features (for "
        "example with StandardScaler), or lower alpha (the penalty is "
        "alpha / (2 sum(sample_weight)) ||W||^2, so sample weights of a "
        "small sum raise it too)."
    )


def _backtrack(point, loss, gradient, objective, step, search_up):
    """The largest ``s = step * 2**-i`` (``i >= 0``) passing ``try_step``.

    With ``search_up`` it first tries ``step * 2**i`` for ``i = 1, 2, ...``
    while the condition holds, which sets the first estimate of the Lipschitz
    constant from the problem rather than from ``INITIAL_STEP``.

    Returns ``(s, new_point, L(new_point))``. If the loss or the gradient at
    ``point`` is not finite the step is taken unchanged and unchecked, so
    that the caller sees the divergence instead of a search masking it.
    """
    if diverged(loss, gradient):
        return step, point - step * gradient, math.nan
    if not gradient.any():
        return step, point.copy(), loss
    accepted, new_point, new_loss = try_step(point, loss, gradient, objective, step)
    if accepted and search_up:
        for _ in range(MAX_SEARCH):
            larger = step * STEP_FACTOR
            trial = try_step(point, loss, gradient, objective, larger)
            if not trial[0]:
                break
            step, (_, new_point, new_loss) = larger, trial
    for _ in range(MAX_SEARCH):
        if accepted:
            return step, new_point, new_loss
        step /= STEP_FACTOR
        accepted, new_point, new_loss = try_step(point, loss, gradient, objective, step)
    if accepted:
        return step, new_point, new_loss
    raise no_step_found(step)


def new_step_state(learning_rate, step=None):
    """The state of a new step rule, plain values (see :class:`StepSize`).

    ``learning_rate`` is a float, ``'auto'`` (backtracking) or
    ``'adaptive'``; ``step`` the step a backtracking search or the adaptive
    rule starts from (by default ``INITIAL_STEP``, or the adaptive rule's
    probe).
    """
    if learning_rate == "adaptive":
        return new_adaptive_state(step or 0.0)
    if learning_rate == "auto":
        return {
            "rule": "backtracking",
            "learning_rate": step or INITIAL_STEP,
            "first_search": True,
            "grow": False,
        }
    return {"rule": "fixed", "learning_rate": float(learning_rate)}


class StepSize:
    """The step of a solver, fixed or found by backtracking, acting on its state.

    With backtracking the very first search grows the step from
    ``INITIAL_STEP`` as far as the sufficient decrease holds, then shrinks
    it if it fails. A later search starts from twice the last step if that
    one was accepted at its first trial, from the last step otherwise.

    The rule keeps no state of its own: it reads and updates the dict it is
    given, which the solver holds among its plain state.

    Parameters
    ----------
    state : dict
        Updated in place, from :func:`new_step_state`:

        - ``rule`` (str): ``'fixed'``, ``'backtracking'`` or ``'adaptive'``
          (whose other keys :class:`~skmlp._auto_step.AdaptiveStep` lists);
        - ``learning_rate`` (float): the step of the last step taken (with
          backtracking, before the first step: ``INITIAL_STEP``);
        - ``first_search`` (bool): the next search is the first, which may
          grow the step without bound;
        - ``grow`` (bool): the next search starts from twice
          ``learning_rate`` (the last one passed at its first trial).
    """

    def __init__(self, state):
        self.state = state

    def set_learning_rate(self, learning_rate):
        """Follow a changed ``learning_rate_init`` between ``partial_fit`` calls.

        A float replaces the step; ``'auto'`` (backtracking) and
        ``'adaptive'`` keep a running rule of their kind as it is, or start
        one from the current step (the adaptive rule from a probe if no step
        was taken yet).
        """
        state = self.state
        rule = {"auto": "backtracking", "adaptive": "adaptive"}.get(learning_rate)
        if rule is not None and state["rule"] == rule:
            return
        new = new_step_state(learning_rate, state["learning_rate"])
        state.clear()
        state.update(new)

    def first_trial(self):
        """The step a search starts from."""
        return self.state["learning_rate"] * (
            STEP_FACTOR if self.state["grow"] else 1.0
        )

    def searched(self, first_trial, step):
        """Record that a search starting at ``first_trial`` accepted ``step``."""
        # A step that had to shrink sits at the curvature: trying larger at
        # once would likely waste an evaluation on a failure.
        self.state.update(grow=step >= first_trial, first_search=False)
        self.state["learning_rate"] = step

    def descend(self, point, loss, gradient, objective, out, curvature_factor=2.0):
        """Write ``point - s * gradient`` into ``out``; its loss if known.

        ``out`` may be ``point``. ``gradient`` is the caller's own: a fixed
        or adaptive step scales it in place. ``curvature_factor`` is the
        adaptive rule's ``c``.
        """
        rule = self.state["rule"]
        if rule != "backtracking":
            if rule == "adaptive":
                adaptive = AdaptiveStep(curvature_factor, self.state)
                adaptive.remeasure(objective)
                adaptive.next_step(point, gradient)
            gradient *= self.state["learning_rate"]
            np.subtract(point, gradient, out=out)
            return None
        first_trial = self.first_trial()
        step, new_point, new_loss = _backtrack(
            point, loss, gradient, objective, first_trial, self.state["first_search"]
        )
        self.searched(first_trial, step)
        out[...] = new_point
        return new_loss
