"""L-BFGS over the flat parameter vector, one iteration per solver step.

The quasi-Newton direction comes from the two-loop recursion over the last
``memory`` pairs ``s_i = x_{i+1} - x_i``, ``y_i = grad L(x_{i+1}) - grad
L(x_i)``, and the step along it from a line search that satisfies the strong
Wolfe conditions, whose curvature condition guarantees ``s_i . y_i > 0``: the
inverse Hessian approximation stays positive definite and the direction one
of descent (Nocedal and Wright, Algorithms 7.4, 7.5, 3.5 and 3.6).
"""

import math

import numpy as np

from .._math.reduction import dot
from .step_size import ROUNDING_ULPS, diverged

# Wolfe constants: sufficient decrease, and a loose curvature condition (the
# usual choice for quasi-Newton methods, which accept the unit step often).
_C1 = 1e-4
_C2 = 0.9
# Evaluations of a line search before giving up on the curvature condition.
_MAX_EVALUATIONS = 20
# While the curvature condition fails at a trial that still decreases the
# loss, the next trial steps this many times further.
_EXTRAPOLATION = 4.0
# The relative decrease of the loss at which a step counts as converged:
# scipy's L-BFGS-B default (factr = 1e7 times the float64 epsilon), the
# test that MLPClassifier(solver='lbfgs') stops by.
FTOL = 1e7 * float(np.finfo(np.float64).eps)
# A relative decrease below FTOL stops the fit unless the quasi-Newton
# direction it was made along has a cosine with -grad below this: pairs of
# badly scaled curvature (targets of 1e10, whose loss is 1e20) gave
# directions of cosine 3e-6, along which the fit stopped after two
# iterations at an R^2 of 0.2, with no warning. The pairs are then forgotten
# and steepest descent decides. Sound fits stopped by the decrease had
# cosines of 0.007 and more there (Zoutendijk's angle condition, Nocedal and
# Wright, section 3.2; docs/solver_measurements.md, "L-BFGS's stop on the
# decrease").
ANGLE_TOL = 1e-4


# The first steepest-descent trial predicts a decrease of at least this
# many ulps of the loss (four times ROUNDING_ULPS, below which a change of
# the loss is taken for rounding).
RESOLVED_ULPS = 4 * ROUNDING_ULPS


class GradientOverflow(ArithmeticError):
    """The gradient is too large for the dot products that L-BFGS takes of
    it (its squared norm, its slope along the direction) in the
    floating-point type of the parameters: no step can be chosen.

    Gradient descent in the same place would step to weights that overflow;
    the training loop reports both as a divergence.
    """


def two_loop_direction(gradient, s_pairs, y_pairs):
    """``-H grad``, with ``H`` the L-BFGS inverse Hessian of the pairs.

    ``H`` is the BFGS update of ``gamma I``, ``gamma = s.y / y.y`` of the
    newest pair, by the pairs from the oldest to the newest; with no pair,
    ``-grad``.
    """
    q = gradient.copy()
    rhos = [1.0 / dot(y, s) for s, y in zip(s_pairs, y_pairs)]
    alphas = []
    for s, y, rho in zip(reversed(s_pairs), reversed(y_pairs), reversed(rhos)):
        alpha = rho * dot(s, q)
        q -= alpha * y
        alphas.append(alpha)
    if s_pairs:
        s, y = s_pairs[-1], y_pairs[-1]
        q *= dot(s, y) / dot(y, y)
    for s, y, rho, alpha in zip(s_pairs, y_pairs, rhos, reversed(alphas)):
        beta = rho * dot(y, q)
        q += (alpha - beta) * s
    return np.negative(q, out=q)


def _interpolate(a, f_a, dg_a, b, f_b, dg_b):
    """The minimiser of the cubic through both ends, kept within the middle
    80% of the interval (its midpoint where the cubic has none)."""
    low, high = min(a, b), max(a, b)
    margin = 0.1 * (high - low)
    d1 = dg_a + dg_b - 3.0 * (f_a - f_b) / (a - b)
    radicand = d1 * d1 - dg_a * dg_b
    if not math.isfinite(radicand) or radicand < 0.0:
        return (a + b) / 2.0
    d2 = math.copysign(math.sqrt(radicand), b - a)
    denominator = dg_b - dg_a + 2.0 * d2
    if denominator == 0.0:
        return (a + b) / 2.0
    trial = b - (b - a) * (dg_b + d2 - d1) / denominator
    if not math.isfinite(trial):
        return (a + b) / 2.0
    return min(max(trial, low + margin), high - margin)


def wolfe_line_search(objective, x, loss, gradient, direction, step):
    """A step ``a`` along ``direction`` with the strong Wolfe conditions::

        L(x + a d) <= L(x) + c1 a grad L(x) . d
        |grad L(x + a d) . d| <= c2 |grad L(x) . d|

    starting from ``step`` (Nocedal and Wright's Algorithms 3.5 and 3.6,
    cubic interpolation). Each trial costs one ``value_and_gradient``.

    Returns ``(a, L(x + a d), grad L(x + a d))`` and the number of trials:
    after ``_MAX_EVALUATIONS`` trials, the best one with a sufficient
    decrease (whose pair may then fail the curvature condition), or None if
    none decreased the loss.
    """
    slope = dot(gradient, direction)

    def evaluate(a):
        value, grad = objective.value_and_gradient(x + a * direction)
        return value, grad, dot(grad, direction)

    def decreases(a, value, dg):
        # A NaN value compares False: too far. So is a trial whose gradient
        # overflowed (dg inf or NaN): its pair could not be stored, and
        # from it the next step could not be chosen.
        return value <= loss + _C1 * a * slope and math.isfinite(dg)

    # ``low``: the best step so far with a sufficient decrease.
    low = (0.0, loss, gradient, slope)
    high = None
    n_evaluations = 0
    while n_evaluations < _MAX_EVALUATIONS:
        if high is None:
            a = step
        else:
            a = _interpolate(low[0], low[1], low[3], high[0], high[1], high[3])
            if a in (low[0], high[0]):
                # The bracket is too narrow to split in floating point: a
                # further trial would repeat one of its ends.
                break
        value, grad, dg = evaluate(a)
        n_evaluations += 1
        if not decreases(a, value, dg) or value >= low[1]:
            high = (a, value, grad, dg)
            continue
        if abs(dg) <= -_C2 * slope:
            return (a, value, grad), n_evaluations
        if high is None and dg < 0.0:
            # Still going down and no bracket yet: go further.
            low = (a, value, grad, dg)
            step = a * _EXTRAPOLATION
            continue
        if high is None or dg * (high[0] - low[0]) >= 0.0:
            high = low
        low = (a, value, grad, dg)
    if low[0] == 0.0:
        return None, n_evaluations
    return low[:3], n_evaluations


def _overflow_message(gradient):
    """What :class:`GradientOverflow` says of ``gradient``."""
    finite = np.isfinite(gradient)
    if not finite.all():
        return (
            "the gradient overflowed (inf or NaN) at weights of a finite "
            "loss, so L-BFGS can choose no step."
        )
    largest = float(np.abs(gradient).max())
    return (
        f"the gradient is too large for L-BFGS in {gradient.dtype} (its "
        f"largest entry is {largest:.3g}; its squared norm overflows), so no "
        "step can be chosen."
    )


class LBFGS:
    """Limited-memory BFGS with a strong Wolfe line search.

    Step ``k`` from ``x_k`` with gradient ``g_k``::

        d_k     = -H_k g_k                (two-loop recursion)
        x_{k+1} = x_k + a_k d_k           (strong Wolfe line search)

    then stores ``s_k = x_{k+1} - x_k``, ``y_k = g_{k+1} - g_k`` and drops
    the oldest pair beyond ``memory``. The line search starts from ``a = 1``
    (the quasi-Newton step) or, with no pair yet, from ``1 / ||g_k||``
    (at least the step that predicts a decrease of ``RESOLVED_ULPS`` ulps
    of the loss).
    ``learning_rate`` has no role: it is ``a_k``, the last step taken
    along the direction.

    After each step the solver tests convergence as scipy's L-BFGS-B does,
    with what the line search computed anyway: ``converged`` is set when
    ``max |g_{k+1}| <= tol`` or when the relative decrease
    ``(L(x_k) - L(x_{k+1})) / max(|L(x_k)|, |L(x_{k+1})|, 1) <= FTOL``. A
    step that finds no decrease at all (the line search fails, or the
    decrease the direction promises is below the rounding of the loss)
    forgets the pairs, so that the next step tries steepest descent; if the
    step was already steepest descent, the next one would repeat it
    exactly, and it sets ``converged`` too. The training loop stops on it.
    A decrease below ``FTOL`` along a quasi-Newton direction whose cosine
    with ``-g_k`` is below ``ANGLE_TOL`` does not stop the fit: it forgets
    the pairs too, and the steepest-descent step after it decides.

    A step needs the loss and gradient at ``x_k``, which the line search of
    the step before computed: the solver keeps them, with the point, as a
    memo (not state: a snapshot leaves it out, since the next call of
    ``partial_fit`` may bring other rows), and evaluates again when the
    iterate is another.

    Parameters
    ----------
    memory : int, default=10
        Number of pairs kept (scipy's ``maxcor``).
    tol : float, default=0.0
        Largest gradient entry at which a step counts as converged
        (scipy's ``gtol``; the estimator's ``tol``).

    Attributes
    ----------
    s_pairs, y_pairs : list of ndarray
        The pairs, oldest first.
    last_step : float
        ``a_k`` of the last step (1 before the first).
    n_evaluations : int
        Evaluations of the loss and gradient so far.
    converged : bool
        Whether the last step met the convergence test above.
    stopped_by : {'gradient', 'decrease', 'no decrease'} or None
        Which test set ``converged``: the gradient's largest entry, the
        relative decrease, or a step along steepest descent that could not
        decrease the loss (None while not converged). The training loop's
        warnings name it: on targets of 1e-3 the gradient test (in the
        loss's units) stopped a fit that had learned nothing, and the
        warning blamed the decrease.

    References
    ----------
    .. [1] J. Nocedal and S. J. Wright, "Numerical Optimization", 2nd ed.,
       Springer (2006), chapters 3 and 7.
    .. [2] D. C. Liu and J. Nocedal, "On the limited memory BFGS method for
       large scale optimization", Math. Program. 45 (1989), 503-528.
    .. [3] R. H. Byrd, P. Lu, J. Nocedal and C. Zhu, "A limited memory
       algorithm for bound constrained optimization", SIAM J. Sci. Comput.
       16(5) (1995), 1190-1208 (L-BFGS-B, and its stopping tests).
    """

    # The training loop stops on ``converged`` instead of its rule on the
    # loss (n_iter_no_change epochs without an improvement by tol).
    tests_convergence = True

    def __init__(self, memory=10, tol=0.0):
        self.memory = memory
        self.tol = tol
        self.s_pairs = []
        self.y_pairs = []
        self.last_step = 1.0
        self.n_evaluations = 0
        self.converged = False
        self.stopped_by = None
        self._memo = None

    @property
    def learning_rate(self):
        """The step along the last direction."""
        return self.last_step

    def set_learning_rate(self, learning_rate):
        """Nothing to follow: the line search chooses the step."""

    def snapshot(self):
        """An independent copy of the state, without the memo."""
        clone = LBFGS(self.memory, self.tol)
        clone.s_pairs = [s.copy() for s in self.s_pairs]
        clone.y_pairs = [y.copy() for y in self.y_pairs]
        clone.last_step = self.last_step
        clone.n_evaluations = self.n_evaluations
        clone.converged = self.converged
        # (A model saved before this attribute has none: not stopped.)
        clone.stopped_by = getattr(self, "stopped_by", None)
        # What the training loop tells the next partial_fit call by (its
        # rows, and whether it streams chunks), for a solver switched to.
        for name in ("rows_fingerprint", "streaming"):
            if name in vars(self):
                setattr(clone, name, getattr(self, name))
        return clone

    def _loss_and_gradient(self, theta, objective):
        memo = self._memo
        if memo is not None and np.array_equal(memo[0], theta):
            return memo[1], memo[2]
        self.n_evaluations += 1
        return objective.value_and_gradient(theta)

    def step(self, theta, objective):
        """One L-BFGS iteration from ``theta`` (in place); returns ``L(theta)``."""
        loss, gradient = self._loss_and_gradient(theta, objective)
        self._memo = (theta.copy(), loss, gradient)
        self.converged = False
        self.stopped_by = None
        if diverged(loss, gradient):
            if math.isfinite(loss):
                # Nothing to step along; the loss alone would pass the
                # training loop's divergence rule.
                raise GradientOverflow(_overflow_message(gradient))
            return loss  # for the training loop to report
        direction = two_loop_direction(gradient, self.s_pairs, self.y_pairs)
        slope = dot(gradient, direction)
        if not (-math.inf < slope < 0.0) and self.s_pairs:
            # Rounding cost H its positive definiteness (an uphill slope),
            # or the pairs scaled the direction past the floating-point
            # range (an infinite or NaN slope): steepest descent.
            self._forget_pairs()
            direction = np.negative(gradient)
            slope = -dot(gradient, gradient)
        if not math.isfinite(slope):
            # ||g||^2 overflows: neither the first trial step 1 / ||g||
            # nor the Wolfe conditions can be computed.
            raise GradientOverflow(_overflow_message(gradient))
        if -slope <= ROUNDING_ULPS * np.finfo(theta.dtype).eps * abs(loss):
            # The decrease the quadratic model predicts, -slope / 2, is
            # below the rounding of the loss (see the step size's
            # ROUNDING_ULPS): no line search could see it.
            self._no_decrease()
            return loss
        quasi_newton = bool(self.s_pairs)
        if self.s_pairs:
            first_trial = 1.0
        else:
            # scipy's 1 / ||g||, but at least the step whose predicted
            # decrease is RESOLVED_ULPS ulps of the loss: on targets of
            # 1e7 in float32 (a loss of 1e14) the decrease of 1 / ||g|| was
            # below the loss's rounding, no trial passed, and the fit
            # "converged" at its start. The search goes down from a step
            # too long; it could not go up from one too short to be seen.
            resolved = RESOLVED_ULPS * float(np.finfo(theta.dtype).eps) * abs(loss)
            first_trial = max(
                1.0 / math.sqrt(dot(gradient, gradient)), resolved / -slope
            )
        found, n_evaluations = wolfe_line_search(
            objective, theta, loss, gradient, direction, first_trial
        )
        self.n_evaluations += n_evaluations
        if found is None:
            self._no_decrease()
            return loss
        self.last_step, new_loss, new_gradient = found
        s = self.last_step * direction
        y = new_gradient - gradient
        sy, yy = dot(s, y), dot(y, y)
        # A pair whose s.y or y.y overflows would make rho or gamma 0 or
        # NaN in the two-loop recursion, and one whose s.y or y.y underflows
        # below the smallest normal number would make them inf, or divide
        # by 0: it is left out, as one of negative curvature is. (A lone
        # class's loss is the penalty alone: its weights shrink into
        # subnormal numbers over a stream's calls, and y.y became 0.)
        tiny = float(np.finfo(theta.dtype).tiny)
        if tiny < sy < math.inf and tiny < yy < math.inf:
            self.s_pairs.append(s)
            self.y_pairs.append(y)
            if len(self.s_pairs) > self.memory:
                del self.s_pairs[0], self.y_pairs[0]
        theta += s
        self._memo = (theta.copy(), new_loss, new_gradient)
        decrease = (loss - new_loss) / max(abs(loss), abs(new_loss), 1.0)
        if np.abs(new_gradient).max() <= self.tol:
            self.converged = True
            self.stopped_by = "gradient"
        elif decrease <= FTOL:
            cosine = -slope / math.sqrt(
                dot(gradient, gradient) * dot(direction, direction)
            )
            if quasi_newton and cosine < ANGLE_TOL:
                # A direction all but orthogonal to the gradient: its small
                # decrease says nothing of the minimum. Steepest descent
                # next, which decides.
                self._forget_pairs()
            else:
                self.converged = True
                self.stopped_by = "decrease"
        return loss

    def _no_decrease(self):
        """After a step that could not decrease the loss: start the curvature
        afresh from steepest descent, or, if that was the step, stop."""
        if self.s_pairs:
            self._forget_pairs()
        else:
            self.converged = True
            self.stopped_by = "no decrease"

    def _forget_pairs(self):
        self.s_pairs = []
        self.y_pairs = []

    def reset_momentum(self):
        """Forget the pairs (and the memo): the curvature starts afresh."""
        self._forget_pairs()
        self._memo = None
