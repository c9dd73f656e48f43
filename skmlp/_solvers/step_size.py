"""Step rules: how far a solver moves along minus the gradient.

A step rule is fixed (``learning_rate`` a float, :class:`FixedStep`), a
backtracking search on the Lipschitz constant of the gradient
(``learning_rate='auto'``, :class:`Backtracking`): Beck and Teboulle's
sufficient decrease, with the step allowed to grow again at every step
(Scheinberg, Goldfarb and Bai's FISTA with full backtracking) so that it can
follow a curvature that falls as training goes on; or Malitsky and
Mishchenko's adaptive step from consecutive gradients
(``learning_rate='adaptive'``, :class:`~skmlp._solvers.adaptive_step.AdaptiveStep`),
which costs no evaluation but needs the same objective at every step. The
estimator's ``learning_rate_init='auto'`` is the adaptive step on the full
batch and backtracking whose step never grows after the first search on
mini-batches (``'monotone'``, :func:`skmlp._solvers.first_order.make_solver`).

A solver holds one rule, built once, and asks it for each step through
:meth:`StepRule.descend`: the solver says where the gradient is to be taken
(a function of the trial step, since FISTA's look-ahead point moves with the
step under backtracking), the rule takes the gradient there, chooses the
step, and moves. A rule's state is its attributes, plain values (floats,
bools, arrays), so that a solver's snapshot copies it and a saved model
holds it.
"""

import math

import numpy as np

from .._math.reduction import dot

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

        L(point - s g) <= max(L(point) - s / 2 * ||g||^2, 0)

    which it does for every ``s <= 1 / Lipschitz(grad L)``. Every
    objective here is at least 0 (each datafit and the penalty are), so a
    decrease asked for below 0 is met by reaching 0: on separable rows
    without a penalty a batch's loss rounds to exactly 0 while its gradient
    does not (a margin above 37 in float64), and no step could pass the
    plain test, whatever its length (the search raised NoStepFound, and
    blamed the features' scale).
    """
    new_point = point - step * gradient
    new_loss = objective.value(new_point)
    decrease = 0.5 * step * dot(gradient, gradient)
    tolerance = ROUNDING_ULPS * float(np.finfo(point.dtype).eps) * abs(loss)
    # A NaN new_loss compares False: the step is rejected.
    accepted = new_loss <= max(loss - decrease, 0.0) + tolerance
    return accepted, new_point, new_loss


class NoStepFound(ValueError):
    """A backtracking search found no step that decreases the objective
    (:func:`no_step_found` says why it can be); the training loop adds what
    the datafit suggests of the targets."""


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
    return NoStepFound(
        "The backtracking line search found no step that decreases the "
        f"objective (last step tried: {step:.3g}); its gradient is wrong or "
        "not accurate enough in this floating-point precision, or its "
        f"curvature is above {curvature:.3g}: scale the input features (for "
        "example with StandardScaler), or lower alpha (the penalty is "
        "alpha / (2 sum(sample_weight)) ||W||^2, so sample weights of a "
        "small sum raise it too)."
    )


class StepRule:
    """What every step rule offers a solver.

    Attributes
    ----------
    learning_rate : float
        The step of the last step taken (before the first: where the rule
        starts).
    """

    def descend(self, lookahead, objective, moves=False):
        """Take the gradient where the solver asks, choose the step, move.

        Parameters
        ----------
        lookahead : callable
            ``lookahead((s_prev, s))`` gives the point ``y`` to step from
            for a trial step ``s`` after a step ``s_prev``: the iterate
            itself for GD, NAG's look-ahead point (a new vector) for NAG,
            whose ``t_k`` compares the two steps.
        objective : Objective
            What ``value`` and ``value_and_gradient`` are asked of.
        moves : bool, default=False
            Whether ``y`` changes with ``s`` (FISTA's look-ahead under
            backtracking): a search must then take the gradient again at
            each trial. The other rules know their step before ``y`` is
            built and ask for it once.

        Returns
        -------
        point : ndarray
            ``x = y - s grad L(y)``: written over ``y`` by a fixed or
            adaptive step, a new vector from a search.
        loss : float
            ``L(y)``.
        gradient : ndarray
            ``grad L(y)``; a fixed or adaptive step scales it by ``s`` in
            place, which keeps its direction.
        new_loss : float or None
            ``L(x)`` if the rule computed it (a search does), else None.
        steps : tuple of float
            The two steps ``(s_prev, s)`` that ``y`` was asked for with.
        """
        steps = self.steps_ahead()
        point = lookahead(steps)
        loss, gradient = objective.value_and_gradient(point)
        gradient *= self.step_along(point, gradient, objective)
        np.subtract(point, gradient, out=point)
        return point, loss, gradient, None, steps

    def steps_ahead(self):
        """``(s_{k-1}, s_k)``, the steps known before the gradient is taken:
        for a fixed step, the same step twice."""
        return self.learning_rate, self.learning_rate

    def step_along(self, point, gradient, objective):
        """The step to move from ``point`` along ``-gradient``."""
        return self.learning_rate

    def objective_may_have_changed(self):
        """The next step's objective may not be the last one's (a new call of
        ``partial_fit``, with its own rows): nothing to do for a rule that
        keeps nothing of the objective."""

    def snapshot(self):
        """An independent copy. The state of this class's rules is floats
        and booleans, which a copy of the attributes' dict makes independent
        (the adaptive rule, which writes into arrays, copies them too). One
        is taken after every epoch, hence no more than the dict's copy
        (docs/performance.md, "Costs behind the code's choices")."""
        clone = object.__new__(type(self))
        clone.__dict__ = vars(self).copy()
        return clone


class FixedStep(StepRule):
    """The step ``learning_rate``, always.

    Parameters
    ----------
    learning_rate : float
        The step.
    """

    def __init__(self, learning_rate):
        self.learning_rate = float(learning_rate)

    def snapshot(self):
        """The rule itself: a fixed step never changes once made (a changed
        ``learning_rate_init`` makes a new rule, ``make_step_rule``), so it
        is its own independent copy."""
        return self


class Backtracking(StepRule):
    """The largest step of the sufficient decrease, by halving.

    A search tries ``s_0`` and halves it until ``try_step`` accepts it:
    ``s_0`` is twice the last step if that one passed at its first trial,
    the last step otherwise. The very first search grows the step from
    ``INITIAL_STEP`` (or the step a switch between ``partial_fit`` calls
    started it from) as far as the sufficient decrease holds, which sets the
    first estimate of the Lipschitz constant from the problem.

    With ``monotone=True`` (Beck and Teboulle's own rule) only the first
    search grows the step; every later one starts from the last step, so
    the step never grows again. That is the rule on mini-batches: each
    batch's sufficient decrease sees that batch and the gradient step
    alone, not the momentum that carries every step on to the next batches
    (about ``1 / (1 - 0.9) = 10`` times as far with the constant momentum
    0.9), and a step let grow whenever one batch allows it ran away on a
    60000-row set (the user guide's "Mini-batches: backtracking").

    Parameters
    ----------
    learning_rate : float, default=INITIAL_STEP
        Where the first search starts.
    monotone : bool, default=False
        Whether the step never grows after the first search.

    Attributes
    ----------
    learning_rate : float
        The step of the last step taken (before the first: where the first
        search starts).
    first_search : bool
        The next search is the first, which may grow the step without
        bound.
    grow : bool
        The next search starts from twice ``learning_rate`` (the last one
        passed at its first trial).
    monotone : bool
        The step never grows after the first search.
    """

    # The default of rules saved before ``monotone`` existed: they grew.
    monotone = False

    def __init__(self, learning_rate=INITIAL_STEP, monotone=False):
        self.learning_rate = learning_rate
        self.first_search = True
        self.grow = False
        self.monotone = monotone

    def descend(self, lookahead, objective, moves=False):
        """The search: see :meth:`StepRule.descend`.

        If the loss or the gradient at ``y`` is not finite, the trial step
        is taken unchanged and unchecked, so that the caller sees the
        divergence instead of a search masking it (``new_loss`` is then
        NaN).
        """
        last = self.learning_rate
        first_trial = step = last * (STEP_FACTOR if self.grow else 1.0)
        point = lookahead((last, step))
        loss, gradient = objective.value_and_gradient(point)
        shrinks = 0
        while True:
            if shrinks == 0 or moves:
                # A new point: checked once, not at each trial from it.
                if diverged(loss, gradient):
                    new_point, new_loss = point - step * gradient, math.nan
                    break
                if not gradient.any():
                    new_point, new_loss = point.copy(), loss
                    break
            accepted, new_point, new_loss = try_step(
                point, loss, gradient, objective, step
            )
            if accepted:
                # Growing needs the gradient at a point that stays: a search
                # whose look-ahead moves starts from the step in use.
                if shrinks == 0 and self.first_search and not moves:
                    step, new_point, new_loss = _grown(
                        point, loss, gradient, objective, step, new_point, new_loss
                    )
                break
            if shrinks == MAX_SEARCH:
                raise no_step_found(step)
            shrinks += 1
            step /= STEP_FACTOR
            if moves:
                point = lookahead((last, step))
                loss, gradient = objective.value_and_gradient(point)
        # A step that had to shrink sits at the curvature: trying larger at
        # once would likely waste an evaluation on a failure.
        self.grow = step >= first_trial and not self.monotone
        self.first_search = False
        self.learning_rate = step
        return new_point, loss, gradient, new_loss, (last, step)


def _grown(point, loss, gradient, objective, step, new_point, new_loss):
    """The accepted ``step``, doubled while ``try_step`` still accepts it,
    with its point and loss."""
    for _ in range(MAX_SEARCH):
        accepted, *trial = try_step(
            point, loss, gradient, objective, step * STEP_FACTOR
        )
        if not accepted:
            break
        step *= STEP_FACTOR
        new_point, new_loss = trial
    return step, new_point, new_loss
