"""First-order solvers over a flat parameter vector.

A solver owns its update rule and its state (nothing else): ``step`` takes the
current iterate ``theta`` (updated in place) and an objective with
``value(theta)`` and ``value_and_gradient(theta)``, and returns the objective
at the point where the gradient was taken. The estimator only builds a solver
and loops.

The step size is either fixed or, with ``learning_rate='auto'``, found by
Beck and Teboulle's backtracking on the Lipschitz constant of the gradient.
"""

import math

import numpy as np

# Backtracking: the first trial step, the factor by which a step is shrunk
# (or, on the very first step, grown), and how many shrinks are tried before
# giving up: 2**-64 times a step is far below any step that could matter.
_INITIAL_STEP = 1.0
_STEP_FACTOR = 2.0
_MAX_SEARCH = 64
# The objective is a sum of many rounded terms: a decrease smaller than a few
# hundred ulps of the loss is noise, and demanding it would shrink the step
# for nothing near a minimum (where the decrease asked for is that small).
_ROUNDING_ULPS = 256


def _sufficient_decrease_step(point, loss, gradient, objective, step, search_up):
    """Beck and Teboulle's backtracking for a gradient step from ``point``.

    Finds the largest step ``s = step * 2**-i`` (``i >= 0``) with::

        L(point - s * g) <= L(point) - s / 2 * ||g||^2

    the sufficient decrease that holds for every ``s <= 1 / Lipschitz``. With
    ``search_up`` it first tries ``step * 2**i`` for ``i = 1, 2, ...`` while the
    condition holds, which sets the first estimate of the Lipschitz constant
    from the problem rather than from ``_INITIAL_STEP``.

    Returns ``(s, new_point, L(new_point))``. If the loss or the gradient at
    ``point`` is not finite the step is taken unchanged and unchecked, so
    that the caller sees the divergence instead of a search masking it.
    """
    squared_norm = float(np.dot(gradient, gradient))
    if not (math.isfinite(loss) and math.isfinite(squared_norm)):
        return step, point - step * gradient, math.nan
    if squared_norm == 0.0:
        return step, point.copy(), loss
    tolerance = _ROUNDING_ULPS * float(np.finfo(point.dtype).eps) * abs(loss)

    def trial(s):
        new_point = point - s * gradient
        new_loss = objective.value(new_point)
        # A NaN new_loss compares False: the step is rejected.
        accepted = new_loss <= loss - 0.5 * s * squared_norm + tolerance
        return accepted, new_point, new_loss

    accepted, new_point, new_loss = trial(step)
    if accepted and search_up:
        for _ in range(_MAX_SEARCH):
            larger = step * _STEP_FACTOR
            larger_accepted, larger_point, larger_loss = trial(larger)
            if not larger_accepted:
                break
            step, new_point, new_loss = larger, larger_point, larger_loss
    for _ in range(_MAX_SEARCH):
        if accepted:
            return step, new_point, new_loss
        step /= _STEP_FACTOR
        accepted, new_point, new_loss = trial(step)
    if accepted:
        return step, new_point, new_loss
    raise ValueError(
        "The backtracking line search found no step that decreases the "
        f"objective (last step tried: {step:.3g}); its gradient is wrong or "
        "not accurate enough in this floating-point precision."
    )


class _StepSize:
    """The step of a solver: fixed, or Beck and Teboulle's backtracking.

    With backtracking the step only shrinks within a momentum cycle, as in
    Beck and Teboulle (2009): a non-decreasing estimate of the Lipschitz
    constant is what keeps FISTA's ``O(1/k^2)`` guarantee. A new cycle (every
    step of steepest descent; NAG's first step and each restart) is a fresh
    start for that guarantee, so its search first tries twice the step, which
    lets the step follow a curvature that falls during training. The very
    first search grows the step from ``_INITIAL_STEP`` as far as it holds.
    """

    def __init__(self, learning_rate):
        self.backtracking = learning_rate == "auto"
        self.learning_rate = (
            _INITIAL_STEP if self.backtracking else float(learning_rate)
        )
        self._first_search = self.backtracking

    def descend(self, point, loss, gradient, objective, new_cycle):
        """``point - lr * gradient`` as a new vector, and its loss if known."""
        if not self.backtracking:
            return point - self.learning_rate * gradient, None
        step = self.learning_rate
        if new_cycle and not self._first_search:
            step *= _STEP_FACTOR
        self.learning_rate, new_point, new_loss = _sufficient_decrease_step(
            point, loss, gradient, objective, step, self._first_search
        )
        self._first_search = False
        return new_point, new_loss


class GradientDescent(_StepSize):
    """Steepest descent: ``theta <- theta - lr * grad L(theta)``.

    Parameters
    ----------
    learning_rate : float or 'auto'
        The step size ``lr``, or ``'auto'`` for backtracking (see
        ``_sufficient_decrease_step``).

    Attributes
    ----------
    learning_rate : float
        The step of the last step taken (with ``'auto'``: the step to try
        first at the next one).
    """

    def step(self, theta, objective):
        """One step from ``theta`` (in place); returns ``L(theta)`` before it."""
        loss, gradient = objective.value_and_gradient(theta)
        theta[...], _ = self.descend(theta, loss, gradient, objective, True)
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

    Parameters
    ----------
    learning_rate : float or 'auto'
        The step size ``lr``, at most ``1 / Lipschitz(grad L)`` for the
        convergence guarantee; ``'auto'`` for backtracking (FISTA with
        backtracking, Beck and Teboulle's step rule).
    restart : {None, 'function', 'gradient'}, default=None
        The adaptive restart; None is plain FISTA. ``'function'`` needs
        ``L(x_k)``: one extra evaluation of the objective per step with a
        fixed ``lr``, none with ``'auto'``.

    Attributes
    ----------
    learning_rate : float
        The step of the last step taken (with ``'auto'``: the step to try
        first at the next one).
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
    """

    def __init__(self, learning_rate, restart=None):
        super().__init__(learning_rate)
        self.restart = restart
        self.t = 0.0
        self.previous = None
        self.previous_loss = None
        self.n_restarts = 0
        self._new_cycle = True

    def step(self, theta, objective):
        """One step from ``x_{k-1} = theta`` to ``x_k`` (in place).

        Returns ``L(y_k)``, the objective where the gradient was taken.
        """
        if self.previous is None:
            t_next = 1.0
            lookahead = theta.copy()
        else:
            t_next = (1.0 + math.sqrt(1.0 + 4.0 * self.t * self.t)) / 2.0
            lookahead = theta - self.previous
            lookahead *= (self.t - 1.0) / t_next
            lookahead += theta
        loss, gradient = objective.value_and_gradient(lookahead)
        if self.previous is None:
            # y_1 = x_0: the loss just computed is L(x_0).
            self.previous_loss = loss
        new_theta, new_loss = self.descend(
            lookahead, loss, gradient, objective, self._new_cycle
        )

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
        self._new_cycle = restart
        return loss

    def reset_momentum(self):
        """Start the momentum afresh from the current iterate; keep the step."""
        self.t = 0.0
        self.previous = None
        self.previous_loss = None
        self._new_cycle = True
