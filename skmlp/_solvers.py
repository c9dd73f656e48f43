"""First-order solvers over a flat parameter vector.

A solver owns its update rule and its state (nothing else): ``step`` takes the
current iterate ``theta`` (updated in place) and an objective with
``value(theta)`` and ``value_and_gradient(theta)``, and returns the objective
at the point where the gradient was taken. The estimator only builds a solver
and loops.

A solver rebinds its array attributes and never writes into them, so that
``copy.copy(solver)`` is a snapshot of its state: the estimator takes one
after every epoch, to keep the last finished epoch when training is
interrupted. The one exception is a work space that holds nothing from one
step to the next (``_work``), which copies and pickles leave out.

The gradient an objective returns is a new vector, the solver's own: a
fixed step scales it in place.

The step size is either fixed or, with ``learning_rate='auto'``, found by
backtracking on the Lipschitz constant of the gradient: Beck and Teboulle's
sufficient decrease, with the step allowed to grow again at every step
(Scheinberg, Goldfarb and Bai's FISTA with full backtracking) so that it can
follow a curvature that falls as training goes on.
"""

import copy
import math

import numpy as np

# Backtracking: the first trial step, the factor by which a step is grown or
# shrunk, and how many shrinks are tried before giving up: 2**-64 times a
# step is far below any step that could matter.
_INITIAL_STEP = 1.0
_STEP_FACTOR = 2.0
_MAX_SEARCH = 64
# The objective is a sum of many rounded terms: a decrease smaller than a few
# hundred ulps of the loss is noise, and demanding it would shrink the step
# for nothing near a minimum (where the decrease asked for is that small).
_ROUNDING_ULPS = 256


def _diverged(loss, gradient):
    return not (math.isfinite(loss) and np.isfinite(gradient).all())


def _try_step(point, loss, gradient, objective, step):
    """``(accepted, point - step * g, its loss)`` for one trial step.

    Accepted when the sufficient decrease of Beck and Teboulle holds::

        L(point - s g) <= L(point) - s / 2 * ||g||^2

    which it does for every ``s <= 1 / Lipschitz(grad L)``.
    """
    new_point = point - step * gradient
    new_loss = objective.value(new_point)
    decrease = 0.5 * step * float(np.dot(gradient, gradient))
    tolerance = _ROUNDING_ULPS * float(np.finfo(point.dtype).eps) * abs(loss)
    # A NaN new_loss compares False: the step is rejected.
    return new_loss <= loss - decrease + tolerance, new_point, new_loss


def _no_step_found(step):
    return ValueError(
        "The backtracking line search found no step that decreases the "
        f"objective (last step tried: {step:.3g}); its gradient is wrong or "
        "not accurate enough in this floating-point precision."
    )


def _backtrack(point, loss, gradient, objective, step, search_up):
    """The largest ``s = step * 2**-i`` (``i >= 0``) passing ``_try_step``.

    With ``search_up`` it first tries ``step * 2**i`` for ``i = 1, 2, ...``
    while the condition holds, which sets the first estimate of the Lipschitz
    constant from the problem rather than from ``_INITIAL_STEP``.

    Returns ``(s, new_point, L(new_point))``. If the loss or the gradient at
    ``point`` is not finite the step is taken unchanged and unchecked, so
    that the caller sees the divergence instead of a search masking it.
    """
    if _diverged(loss, gradient):
        return step, point - step * gradient, math.nan
    if not gradient.any():
        return step, point.copy(), loss
    accepted, new_point, new_loss = _try_step(point, loss, gradient, objective, step)
    if accepted and search_up:
        for _ in range(_MAX_SEARCH):
            larger = step * _STEP_FACTOR
            trial = _try_step(point, loss, gradient, objective, larger)
            if not trial[0]:
                break
            step, (_, new_point, new_loss) = larger, trial
    for _ in range(_MAX_SEARCH):
        if accepted:
            return step, new_point, new_loss
        step /= _STEP_FACTOR
        accepted, new_point, new_loss = _try_step(
            point, loss, gradient, objective, step
        )
    if accepted:
        return step, new_point, new_loss
    raise _no_step_found(step)


class _StepSize:
    """The step of a solver: fixed, or found by backtracking.

    With backtracking the very first search grows the step from
    ``_INITIAL_STEP`` as far as the sufficient decrease holds, then shrinks
    it if it fails. A later search starts from twice the last step if that
    one was accepted at its first trial, from the last step otherwise.
    """

    # Work space of a step (see the module's docstring); not state.
    _work = None

    def __init__(self, learning_rate):
        self.backtracking = learning_rate == "auto"
        self.learning_rate = (
            _INITIAL_STEP if self.backtracking else float(learning_rate)
        )
        self._first_search = self.backtracking
        self._grow = False

    def __copy__(self):
        # What copy.copy does for a plain object, without its generic
        # machinery (the estimator takes one snapshot per epoch), and
        # without the work space.
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.__dict__.pop("_work", None)
        return clone

    def snapshot(self):
        """An independent copy of the solver's state (see the module's docstring)."""
        return copy.copy(self)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_work", None)
        return state

    def set_learning_rate(self, learning_rate):
        """Follow a changed ``learning_rate_init`` between ``partial_fit`` calls.

        A float replaces the step; ``'auto'`` keeps a running search as it
        is, or starts one from the current step.
        """
        if learning_rate != "auto":
            self.backtracking = False
            self.learning_rate = float(learning_rate)
        elif not self.backtracking:
            self.backtracking = True
            self._first_search = True
            self._grow = False

    def _first_trial(self):
        """The step a search starts from."""
        return self.learning_rate * (_STEP_FACTOR if self._grow else 1.0)

    def _searched(self, first_trial, step):
        # A step that had to shrink sits at the curvature: trying larger at
        # once would likely waste an evaluation on a failure.
        self._grow = step >= first_trial
        self._first_search = False
        self.learning_rate = step

    def descend(self, point, loss, gradient, objective):
        """``point - lr * gradient`` as a new vector, and its loss if known."""
        if not self.backtracking:
            return point - self.learning_rate * gradient, None
        first_trial = self._first_trial()
        step, new_point, new_loss = _backtrack(
            point, loss, gradient, objective, first_trial, self._first_search
        )
        self._searched(first_trial, step)
        return new_point, new_loss


class GradientDescent(_StepSize):
    """Steepest descent: ``theta <- theta - lr * grad L(theta)``.

    Parameters
    ----------
    learning_rate : float or 'auto'
        The step size ``lr``, or ``'auto'``: each step takes the largest
        ``s = s_0 * 2**-i`` with ``L(x - s g) <= L(x) - s/2 ||g||^2``, where
        ``s_0`` is twice the last step if that one passed at its first trial
        and the last step otherwise.

    Attributes
    ----------
    learning_rate : float
        The step of the last step taken (with ``'auto'``: the step to try
        first at the next one).
    """

    def step(self, theta, objective):
        """One step from ``theta`` (in place); returns ``L(theta)`` before it."""
        loss, gradient = objective.value_and_gradient(theta)
        if self.backtracking:
            theta[...], _ = self.descend(theta, loss, gradient, objective)
        else:
            # The gradient is the solver's own, new at every step.
            gradient *= self.learning_rate
            theta -= gradient
        return loss

    def reset_momentum(self):
        """Nothing to forget: steepest descent has no momentum."""


class NesterovAcceleratedGradient(_StepSize):
    """Nesterov's accelerated gradient, as FISTA with no proximal term.

    With ``t_1 = 1`` and ``y_1 = x_0``, step ``k`` is::

        x_k     = y_k - lr * grad L(y_k)
        t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2
        y_{k+1} = x_k + ((t_k - 1) / t_{k+1}) * (x_k - x_{k-1})

    The gradient is always taken at the look-ahead point ``y_k``; the iterate
    kept (and returned to the user as the model) is ``x_k``. Since ``t_1 = 1``
    the first two steps carry no momentum.

    An adaptive restart (O'Donoghue and Candes) sets ``t_k = 1`` after step
    ``k``, so that ``y_{k+1} = x_k`` and the momentum starts afresh,
    when ``'function'``: ``L(x_k) > L(x_{k-1})``, or ``'gradient'``:
    ``grad L(y_k) . (x_k - x_{k-1}) > 0`` (the momentum points uphill).

    With backtracking, step ``k`` first tries ``s_k = 2 s_{k-1}`` and halves
    it until ``L(x_k) <= L(y_k) - s_k/2 ||grad L(y_k)||^2`` (Beck and
    Teboulle's test), with ``t_k`` from Scheinberg, Goldfarb and Bai's rule::

        t_k (t_k - 1) = (s_{k-1} / s_k) t_{k-1}^2

    (FISTA's when ``s_k = s_{k-1}``), which keeps the ``O(1/k^2)`` rate in
    terms of the steps taken while letting the step grow. Since ``y_k``
    depends on ``s_k`` through ``t_k``, a rejected trial costs a gradient
    evaluation, except right after a restart, where there is no momentum.

    Parameters
    ----------
    learning_rate : float or 'auto'
        The step size ``lr``, at most ``1 / Lipschitz(grad L)`` for the
        convergence guarantee, or ``'auto'`` for backtracking.
    restart : {None, 'function', 'gradient'}, default=None
        The adaptive restart; None is plain FISTA. ``'function'`` needs
        ``L(x_k)``: one extra evaluation of the objective per step with a
        fixed ``lr``, none with ``'auto'``.

    Attributes
    ----------
    learning_rate : float
        The step of the last step taken.
    t : float
        ``t_k`` of the last step taken (0 before the first step, 1 after a
        restart).
    previous : ndarray or None
        ``x_{k-1}``, the iterate before the last step (None before the first).
    previous_loss : float or None
        ``L(x_k)`` of the last step, with ``restart='function'``.
    n_restarts : int
        Number of restarts so far.

    References
    ----------
    .. [1] Y. Nesterov, "A method for solving the convex programming problem
       with convergence rate O(1/k^2)", Soviet Math. Dokl. 27 (1983).
    .. [2] A. Beck and M. Teboulle, "A fast iterative shrinkage-thresholding
       algorithm for linear inverse problems", SIAM J. Imaging Sci. 2(1)
       (2009), 183-202.
    .. [3] B. O'Donoghue and E. Candes, "Adaptive restart for accelerated
       gradient schemes", Found. Comput. Math. 15 (2015), 715-732.
    .. [4] K. Scheinberg, D. Goldfarb and X. Bai, "Fast first-order methods
       for composite convex optimization with backtracking", Found. Comput.
       Math. 14 (2014), 389-417.
    """

    def __init__(self, learning_rate, restart=None):
        super().__init__(learning_rate)
        self.restart = restart
        self.t = 0.0
        self.previous = None
        self.previous_loss = None
        self.n_restarts = 0

    def _next_t(self, previous_step, step):
        """``t_k`` for the step ``step`` after a step ``previous_step``."""
        if self.previous is None:
            return 1.0
        ratio = previous_step / step  # exactly 1 with a fixed step
        return (1.0 + math.sqrt(1.0 + 4.0 * ratio * self.t * self.t)) / 2.0

    def _lookahead(self, theta, t_next):
        """``y_k = x_{k-1} + ((t_{k-1} - 1) / t_k) (x_{k-1} - x_{k-2})``, in
        the work space.

        The same array at every step, so that an objective that keeps views
        of the vector it evaluates (``Objective``) keeps them.
        """
        lookahead = self._work
        if (
            lookahead is None
            or lookahead.shape != theta.shape
            or lookahead.dtype != theta.dtype
        ):
            lookahead = self._work = np.empty_like(theta)
        if self.previous is None:
            np.copyto(lookahead, theta)
            return lookahead
        np.subtract(theta, self.previous, out=lookahead)
        lookahead *= (self.t - 1.0) / t_next
        lookahead += theta
        return lookahead

    def step(self, theta, objective):
        """One step from ``x_{k-1} = theta`` to ``x_k`` (in place).

        Returns ``L(y_k)``, the objective where the gradient was taken.
        """
        if self.backtracking and self.previous is not None and self.t != 1.0:
            loss, gradient, new_theta, new_loss, t_next = self._search_with_momentum(
                theta, objective
            )
        else:
            # A fixed step, or no momentum (first step, or after a restart):
            # y_k does not depend on the step, one gradient is enough.
            previous_step = self.learning_rate
            t_next = self._next_t(previous_step, previous_step)
            lookahead = self._lookahead(theta, t_next)
            loss, gradient = objective.value_and_gradient(lookahead)
            if self.backtracking:
                new_theta, new_loss = self.descend(lookahead, loss, gradient, objective)
            else:
                # x_k = y_k - lr * g in the work space, as descend computes
                # it. The gradient keeps its direction, all the restart
                # test below needs.
                gradient *= self.learning_rate
                new_theta = np.subtract(lookahead, gradient, out=lookahead)
                new_loss = None
            t_next = self._next_t(previous_step, self.learning_rate)
        if self.previous is None:
            # y_1 = x_0: the loss just computed is L(x_0).
            self.previous_loss = loss

        if self.restart == "gradient":
            restart = float(np.dot(gradient, new_theta - theta)) > 0.0
        elif self.restart == "function":
            if new_loss is None:
                new_loss = objective.value(new_theta)
            restart = new_loss > self.previous_loss
            self.previous_loss = new_loss
        else:
            restart = False

        self.previous = theta.copy()
        theta[...] = new_theta
        self.t = 1.0 if restart else t_next
        self.n_restarts += restart
        return loss

    def _search_with_momentum(self, theta, objective):
        """Backtracking when ``y_k`` moves with the trial step.

        Returns ``L(y_k)``, ``grad L(y_k)``, ``x_k``, ``L(x_k)`` and ``t_k``,
        and sets ``learning_rate`` to the accepted step.
        """
        first_trial = step = self._first_trial()
        for _ in range(_MAX_SEARCH + 1):
            t_next = self._next_t(self.learning_rate, step)
            lookahead = self._lookahead(theta, t_next)
            loss, gradient = objective.value_and_gradient(lookahead)
            if _diverged(loss, gradient):
                # Let the estimator see the divergence.
                accepted, new_theta, new_loss = True, lookahead - step * gradient, None
            else:
                accepted, new_theta, new_loss = _try_step(
                    lookahead, loss, gradient, objective, step
                )
            if accepted:
                self._searched(first_trial, step)
                return loss, gradient, new_theta, new_loss, t_next
            step /= _STEP_FACTOR
        raise _no_step_found(step)

    def reset_momentum(self):
        """Start the momentum afresh from the current iterate; keep the step."""
        self.t = 0.0
        self.previous = None
        self.previous_loss = None
