"""Solvers over a flat parameter vector: GD and NAG here, L-BFGS in ``_lbfgs``.

A solver owns its update rule and its state (nothing else): ``step`` takes the
current iterate ``theta`` (updated in place) and an objective with
``value(theta)`` and ``value_and_gradient(theta)``, and returns the objective
at the point where the gradient was taken. The training loop only builds a
solver (:func:`make_solver`) and loops. A solver with a convergence test of
its own (``tests_convergence``: L-BFGS, whose line search computes the
gradient at the new iterate anyway) reports it in ``converged`` after each
step, and the loop stops on it instead of on the loss.

A solver's state is its instance attributes, all plain values (floats,
strings, arrays), listed in each class's Attributes, and the step rule of
GD and NAG, whose own state is its attributes, plain values too. It is what
``partial_fit`` carries from one call to the next, what ``snapshot()``
copies after every epoch (to go back to the last finished epoch when
training is interrupted), and what a saved model holds (the persistence
module saves ``vars(solver)``, the step rule as its name and its
attributes). GD and NAG replace their arrays rather than write into them,
so that a snapshot shares them; L-BFGS, which updates its pairs in place,
copies them in its own ``snapshot``.

The step size is a step rule (:mod:`skmlp._solvers.step_size`): fixed,
backtracking or adaptive, built once with the solver and held as its
``step_rule``.

The adaptive step measures the curvature between the gradient of the last
step and this one, which holds only if both come from the same objective.
Within one call of ``fit`` or ``partial_fit`` on the full batch the rows do
not change (mini-batches use backtracking). Between ``partial_fit`` calls
they may: :func:`make_solver`, which the estimator calls once per call,
marks a continued solver's rule, and its first step compares the
fingerprints of the two calls' objectives (``Objective.fingerprint``, a hash
of their rows, targets, weights and ``alpha``). Equal ones give the same
gradient to the bit, so the last gradient is kept, and ``partial_fit`` goes
on exactly as ``fit`` would at one gradient per step; on another objective
the first step takes the last gradient again (one gradient evaluation per
call), so that the pair measures the new rows' own curvature.
"""

import math

import numpy as np

from .._math.reduction import dot
from .adaptive_step import AdaptiveStep
from .lbfgs import LBFGS
from .step_size import (
    INITIAL_STEP,
    MAX_SEARCH,
    STEP_FACTOR,
    Backtracking,
    FixedStep,
    no_step_found,
)

# The constant momentum of NAG on mini-batches when momentum='auto': the
# default of MLPClassifier and of Sutskever et al.'s experiments.
MINIBATCH_MOMENTUM = 0.9

# The adaptive step's c (step <= 1 / (c L_k)): the paper's 2 for GD and for
# NAG without a gradient restart, FISTA's own 1 / L with one, whose restart
# is then its safeguard (docs/solver_measurements.md, "A free automatic
# step").
CURVATURE_FACTOR = 2.0
CURVATURE_FACTOR_WITH_GRADIENT_RESTART = 1.0

# NAG's safeguard with the adaptive step: a look-ahead point whose loss is
# more than this factor times the lowest loss of the points before it is
# taken again (NesterovAcceleratedGradient, "Safeguard"). The losses of a
# sound accelerated run rise above their best by a few percent at most
# (docs/solver_measurements.md, "NAG's safeguard").
RUNAWAY_FACTOR = 1.1
# The trials of the safeguard that keep the momentum (at half and a quarter
# of the step) before it drops it: on the case that called for it, dropping
# it at once left four of six fits short of a training accuracy of 1 in 200
# iterations, keeping it for one or two trials none (same section).
MOMENTUM_TRIALS = 2
# The safeguard's factor at the first step on another objective (a
# ``partial_fit`` call on other rows), against the loss of the last point
# on it: that step was taken on the last call's rows, whose noise alone
# may raise these rows' loss. On i.i.d. chunk streams 1.1 took a step
# again at 18% of the calls and lost held-out score, 4 at one call in
# 1200; on a stream whose targets jump, 4 kept every fit, where without
# the record 2 of 5 diverged (docs/solver_measurements.md, "NAG's
# safeguard across calls").
NEW_OBJECTIVE_RUNAWAY_FACTOR = 4.0
# Below this rise (in the loss's units, nats per row) no loss is a
# run-away: with alpha=0 a separable set's loss may round to 0, against
# which any loss at all would be more than RUNAWAY_FACTOR times the best.
RUNAWAY_FLOOR = 1e-10


def make_step_rule(learning_rate, curvature_factor, running=None):
    """The step rule ``learning_rate`` asks for.

    Parameters
    ----------
    learning_rate : float, 'auto', 'monotone' or 'adaptive'
        A float is a :class:`~skmlp._solvers.step_size.FixedStep`, ``'auto'``
        :class:`~skmlp._solvers.step_size.Backtracking`, ``'monotone'`` the
        same whose step never grows after its first search, ``'adaptive'``
        :class:`~skmlp._solvers.adaptive_step.AdaptiveStep`.
    curvature_factor : float
        The adaptive step's ``c``.
    running : StepRule or None, default=None
        The rule of a continued solver (a changed ``learning_rate_init``
        between ``partial_fit`` calls): one of the kind asked for goes on as
        it is; another kind starts from its step (backtracking from
        ``INITIAL_STEP``, the adaptive rule from a probe, if that is 0).
    """
    step = running.learning_rate if running is not None else 0.0
    if learning_rate == "adaptive":
        if type(running) is AdaptiveStep:
            running.curvature_factor = curvature_factor
            return running
        return AdaptiveStep(curvature_factor, step)
    if learning_rate in ("auto", "monotone"):
        monotone = learning_rate == "monotone"
        if type(running) is Backtracking:
            running.monotone = monotone
            # A rule that grew (one saved before the monotone rule) does
            # not grow once more on its way to never growing.
            running.grow = running.grow and not running.monotone
            return running
        return Backtracking(step or INITIAL_STEP, monotone=monotone)
    return FixedStep(learning_rate)


def retake_step(rule, objective, limit, point_of):
    """The safeguard's search: the adaptive ``rule``'s last step again from
    the point where it took its gradient (``rule.point``), halved until the
    loss at ``point_of(x, trial)`` (the point the solver steps from next,
    built from the retaken iterate ``x``) is at most ``limit``.

    Returns ``(x, point, loss, gradient, trial)``, and sets the rule's steps
    to the retaken one with no growth: the curvature rose along the last
    move, and growing at once would meet it again.
    """
    step = rule.learning_rate
    for trial in range(MAX_SEARCH):
        step /= STEP_FACTOR
        retaken = rule.point - step * rule.gradient
        point = point_of(retaken, trial)
        loss, gradient = objective.value_and_gradient(point)
        if loss <= limit:
            break
    else:
        # A step 2**-64 times the last one that still leaves the loss
        # above the factor: the gradient is wrong, or rounding rules.
        raise no_step_found(step)
    rule.learning_rate = rule.previous_learning_rate = step
    rule.growth = 0.0
    return retaken, point, loss, gradient, trial


def runaway(loss, best_loss, factor=RUNAWAY_FACTOR):
    """Whether ``loss`` is more than ``factor`` times the best before it
    (a NaN is: it compares False)."""
    return not loss <= runaway_limit(best_loss, factor)


def runaway_limit(best_loss, factor=RUNAWAY_FACTOR):
    """The highest loss that is not a run-away from ``best_loss``."""
    return factor * best_loss + RUNAWAY_FLOOR


class _Solver:
    """What GD and NAG share: the step rule, the snapshot."""

    # A first-order step has no convergence test of its own: the training
    # loop stops on the loss (n_iter_no_change epochs without improvement).
    tests_convergence = False
    converged = False
    # The adaptive step's c.
    curvature_factor = CURVATURE_FACTOR
    # Steepest descent has none; NAG's properties say whether it has any
    # (a momentum above 0) and whether its next look-ahead point carries it.
    has_momentum = False
    carries_momentum = False

    # The next step's evaluation, computed by look_ahead at the end of a
    # call (None otherwise; for a solver saved before it existed too).
    pending = None

    def restart_momentum(self):
        """Drop the momentum, as an adaptive restart does (steepest descent
        has none to drop)."""

    @property
    def guards_last_step(self):
        """Whether :meth:`look_ahead` applies: the adaptive step's safeguard,
        with a record and the point of a last gradient to take a step again
        from."""
        rule = self.step_rule
        return (
            type(rule) is AdaptiveStep
            and rule.point is not None
            and self.best_loss is not None
        )

    def look_ahead(self, theta, objective):
        """The first part of the next step, at the end of a call: its
        evaluation and the safeguard on it, which may take the last step
        again (``theta`` is then set in place to the retaken iterate).

        A step's safeguard looks at the point where the step takes its
        gradient, so the iterate ``x_k`` that ends a call is looked at only
        by the next step (through NAG's ``y_{k+1}``, GD's ``x_k`` itself).
        Without this, a call ended on whatever its last step gave: on the
        Poisson deviance, whose curvature grows as its exponential, the
        step after the probe overshot to a loss 1e5 to 1e7 times the first, and
        ``fit(max_iter=2)`` raised a :class:`DivergenceError` on a fit that
        the third step takes back; and about one step in 50 of default fits
        leaves an iterate more than 1.1 times the best loss, which the next
        step takes back (docs/solver_measurements.md, "The iterate that
        ends a call"). Done here, the model of a call is
        the one the next step would go on from, and the evaluation is kept
        (``pending``) for that step: a ``partial_fit`` call on the same rows
        takes it instead of computing it again, so that ``N`` calls are
        still ``fit(max_iter=N)`` to the bit, at one gradient per call.
        """
        self.pending = None
        evaluation = self._guarded_evaluation(theta, objective)
        self.pending = (theta.copy(), *evaluation)

    def _take_pending(self, theta):
        """The evaluation :meth:`look_ahead` kept, if it was made at
        ``theta`` (the weights may have been set since), as new arrays (the
        step writes into them; a snapshot shares the kept ones); None
        otherwise. It is taken once."""
        pending, self.pending = self.pending, None
        if pending is None or not np.array_equal(pending[0], theta):
            return None
        return tuple(
            value.copy() if isinstance(value, np.ndarray) else value
            for value in pending[1:]
        )

    def snapshot(self):
        """An independent copy of the solver.

        GD and NAG replace their arrays at each step (``previous`` is a new
        vector) and never write into them, so the copy shares them; the
        step rule, which updates its state in place, is copied with its
        arrays. One is taken after every epoch, so a copy of ``previous``
        would be paid at every epoch for nothing (docs/performance.md,
        "Costs behind the code's choices").
        """
        clone = object.__new__(type(self))
        clone.__dict__ = {**vars(self), "step_rule": self.step_rule.snapshot()}
        return clone

    @property
    def learning_rate(self):
        """The step of the last step taken."""
        return self.step_rule.learning_rate

    def set_learning_rate(self, learning_rate):
        """Follow a changed ``learning_rate_init`` between ``partial_fit`` calls.

        A float replaces the step; ``'auto'`` and ``'monotone'``
        (backtracking) and ``'adaptive'`` keep a running rule of their kind
        as it is, or start one from the current step.
        """
        self.step_rule = make_step_rule(
            learning_rate, self.curvature_factor, self.step_rule
        )


class GradientDescent(_Solver):
    """Steepest descent: ``theta <- theta - lr * grad L(theta)``.

    Parameters
    ----------
    learning_rate : float, 'auto', 'monotone' or 'adaptive'
        The step size ``lr``, or ``'auto'``: each step takes the largest
        ``s = s_0 * 2**-i`` with ``L(x - s g) <= L(x) - s/2 ||g||^2``, where
        ``s_0`` is twice the last step if that one passed at its first trial
        and the last step otherwise; ``'monotone'``: the same with ``s_0``
        always the last step after the first search; or ``'adaptive'``: Malitsky and
        Mishchenko's step from the last two gradients, ``c = 2``
        (:class:`~skmlp._solvers.adaptive_step.AdaptiveStep`), at no extra evaluation.

    Attributes
    ----------
    step_rule : FixedStep, Backtracking or AdaptiveStep
        The step rule (:func:`make_step_rule`), ``step_rule.learning_rate`` the
        step of the last step taken (with ``'auto'``: where the next search
        starts).
    best_loss : float or None
        The lowest loss so far on the current objective, for the safeguard
        of the adaptive step (as NAG's, without momentum).
    n_retakes : int
        Number of steps the safeguard took again so far.
    pending : tuple or None
        The next step's evaluation, taken by :meth:`look_ahead` at the end
        of a call: ``(x_k, L(x_k), grad L(x_k))``, used by that step if its
        iterate and objective are the same.
    """

    # The safeguard's state, for a solver saved before it existed.
    best_loss = None
    n_retakes = 0

    def __init__(self, learning_rate):
        self.step_rule = make_step_rule(learning_rate, self.curvature_factor)
        self.best_loss = None
        self.n_retakes = 0
        self.pending = None

    def step(self, theta, objective):
        """One step from ``theta`` (in place); returns ``L(theta)`` before it."""
        if type(self.step_rule) is AdaptiveStep:
            return self._step_safely(theta, objective)
        # The gradient is taken at the iterate itself, whatever the step.
        new_theta, loss, _, _, _ = self.step_rule.descend(
            lambda steps: theta, objective
        )
        if new_theta is not theta:
            # A search's new point.
            theta[...] = new_theta
        return loss

    def _step_safely(self, theta, objective):
        """What ``AdaptiveStep.descend`` does from ``theta``, with NAG's
        safeguard without momentum: an iterate whose loss is more than
        ``RUNAWAY_FACTOR`` times the best before it is stepped to again,
        from the last one, at half the step, halved until it is not.

        The adaptive step bounds the step by the curvature of the last
        move; where the curvature rises steeply along the next (the
        exponential of the Poisson deviance on unscaled inputs), one step
        can raise the loss by orders of magnitude, which the divergence
        rule would take for a diverged fit.
        """
        rule = self.step_rule
        pending = self._take_pending(theta)
        if pending is None:
            loss, gradient = self._guarded_evaluation(theta, objective)
        elif rule.remeasure(objective):
            # The evaluation of the end of the last call, on its rows.
            loss, gradient = pending
        else:
            loss, gradient = self._guarded_evaluation(theta, objective, False)
        if self.best_loss is None or loss < self.best_loss:
            self.best_loss = loss
        gradient *= rule.next_step(theta, gradient)
        np.subtract(theta, gradient, out=theta)
        return loss

    def _guarded_evaluation(self, theta, objective, same_objective=None):
        """``(L(theta), grad L(theta))`` after the safeguard, which may step
        to ``theta`` again (in place). ``same_objective``: whether the rule's
        :meth:`~AdaptiveStep.remeasure` found the last objective's (None:
        ask it)."""
        rule = self.step_rule
        loss, gradient = objective.value_and_gradient(theta)
        if same_objective is None:
            same_objective = rule.remeasure(objective)
        factor = RUNAWAY_FACTOR
        if not same_objective:
            # The losses seen so far are another objective's: the record
            # starts at the last point's loss on this one (see NAG's).
            self.best_loss = rule.remeasured_loss
            factor = NEW_OBJECTIVE_RUNAWAY_FACTOR
        if (
            self.best_loss is not None
            and rule.point is not None
            and runaway(loss, self.best_loss, factor)
        ):
            limit = runaway_limit(self.best_loss, factor)
            retaken, _, loss, gradient, _ = retake_step(
                rule, objective, limit, lambda retaken, trial: retaken
            )
            theta[...] = retaken
            self.n_retakes += 1
        return loss, gradient

    def reset_momentum(self):
        """Steepest descent has no momentum; the safeguard's record starts
        afresh, as NAG's does (the iterate kept may not be the last one),
        and the look-ahead's evaluation is dropped."""
        self.best_loss = None
        self.pending = None


class NesterovAcceleratedGradient(_Solver):
    """Nesterov's accelerated gradient: FISTA, or a constant momentum.

    With ``y_1 = x_0``, step ``k`` takes the gradient at the look-ahead
    point ``y_k`` and keeps ``x_k`` as the iterate (the model)::

        x_k     = y_k - lr * grad L(y_k)
        y_{k+1} = x_k + beta_k (x_k - x_{k-1})

    With ``momentum='fista'``, ``beta_k = (t_k - 1) / t_{k+1}`` with
    ``t_1 = 1`` and ``t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2``: FISTA with no
    proximal term, whose ``beta_k`` tends to 1 (the first two steps carry no
    momentum). It is built for exact gradients: on mini-batches it
    accumulates their noise. With a float ``momentum = mu``, ``beta_k = mu``
    from the second step on: Sutskever et al.'s form of Nesterov's method,
    ``v_k = mu v_{k-1} - lr grad L(x_{k-1} + mu v_{k-1})``,
    ``x_k = x_{k-1} + v_k`` with ``v_k = x_k - x_{k-1}``, the method of
    MLPClassifier's ``nesterovs_momentum`` and PyTorch's SGD with
    ``nesterov=True`` (which keep ``y_k`` as their parameters, where this
    solver keeps ``x_k``).

    An adaptive restart (O'Donoghue and Candes) drops the momentum after step
    ``k`` (``y_{k+1} = x_k``; for FISTA ``t_k = 1``, so it starts afresh)
    when ``'function'``: ``L(x_k) > L(x_{k-1})``, or ``'gradient'``:
    ``grad L(y_k) . (x_k - x_{k-1}) > 0`` (the momentum points uphill).

    With backtracking, step ``k`` first tries ``s_k = 2 s_{k-1}`` and halves
    it until ``L(x_k) <= L(y_k) - s_k/2 ||grad L(y_k)||^2`` (Beck and
    Teboulle's test). For FISTA, ``t_k`` follows Scheinberg, Goldfarb and
    Bai's rule::

        t_k (t_k - 1) = (s_{k-1} / s_k) t_{k-1}^2

    (FISTA's when ``s_k = s_{k-1}``), which keeps the ``O(1/k^2)`` rate in
    terms of the steps taken while letting the step grow. Since ``y_k``
    then depends on ``s_k`` through ``t_k``, a rejected trial costs a
    gradient evaluation, except right after a restart, where there is no
    momentum. With a constant momentum ``y_k`` does not depend on ``s_k``.

    With the adaptive step, ``s_k`` comes from ``grad L(y_k)`` and the last
    gradient, after ``y_k`` was built with ``t_k``: so ``t_k`` follows the
    same rule one step late, with the last two steps known,
    ``t_k (t_k - 1) = (s_{k-2} / s_{k-1}) t_{k-1}^2``. That lag is outside
    Scheinberg, Goldfarb and Bai's proof, and ``c`` is 1 (FISTA's
    ``s <= 1 / L``) with ``restart='gradient'``, 2 otherwise.

    Safeguard. The adaptive step's curvature is that of the last move, and
    a curvature that rises along the next one (a loss far from quadratic,
    as with many classes and few rows) makes the step, and the momentum
    that carries it on, overshoot; the restart alone does not catch it in
    time. So with the adaptive step the loss ``L(y_k)`` is compared with
    the lowest ``L(y_j)``, ``j < k``, seen on the same objective: above
    ``RUNAWAY_FACTOR`` (1.1) times it, the last step is taken again from
    ``y_{k-1}``, where its gradient was taken, at half its length, halved
    again until the loss is back within the factor. At the first step on
    another objective (a ``partial_fit`` call on other rows, after which
    the step rule takes its gradient at ``y_{k-1}`` again) the record is
    ``y_{k-1}``'s loss on the new objective, and the factor is
    ``NEW_OBJECTIVE_RUNAWAY_FACTOR`` (4): the step to ``y_k`` was taken
    on other rows, whose noise may raise these rows' loss by more than
    10%, but not four-fold unless the step ran away. The first
    ``MOMENTUM_TRIALS`` (2) trials keep the momentum ``beta`` the rejected
    ``y_k`` was built with; the later ones drop it::

        x_{k-1} = y_{k-1} - s 2^-j grad L(y_{k-1}),
        y_k = x_{k-1} + beta (x_{k-1} - x_{k-2})   (j <= MOMENTUM_TRIALS),
        y_k = x_{k-1}                              (j > MOMENTUM_TRIALS).

    It costs one gradient evaluation per trial, none when the loss keeps
    within the factor, and ends: once the momentum is dropped, ``L(y_k)``
    tends to ``L(y_{k-1})``, which kept within it, as ``j`` grows (the
    search stops after ``MAX_SEARCH`` trials with an error if it does not).
    The step from ``y_k`` is then at most the retaken one (the rule's
    growth is set to none), and with the momentum dropped FISTA's ``t``
    starts afresh, as after a restart. Keeping the momentum for a trial or
    two matters: dropping it at once slows the accelerated run down
    (docs/solver_measurements.md, "NAG's safeguard"). The iterate that ends
    a call, which no step's safeguard looked at, is looked at by the next
    step's, taken at the end of the call (:meth:`look_ahead`).

    Parameters
    ----------
    learning_rate : float, 'auto', 'monotone' or 'adaptive'
        The step size ``lr``, at most ``1 / Lipschitz(grad L)`` for FISTA's
        convergence guarantee, ``'auto'`` for backtracking (``'monotone'``:
        whose step never grows after the first search), or
        ``'adaptive'`` for the adaptive step.
    restart : {None, 'function', 'gradient'}, default=None
        The adaptive restart; None never restarts. ``'function'`` needs
        ``L(x_k)``: one extra evaluation of the objective per step with a
        fixed or adaptive ``lr``, none with ``'auto'``.
    momentum : 'fista' or float in [0, 1), default='fista'
        FISTA's ``beta_k``, or a constant one.

    Attributes
    ----------
    step_rule : FixedStep, Backtracking or AdaptiveStep
        The step rule (:func:`make_step_rule`), ``step_rule.learning_rate`` the
        step of the last step taken.
    t : float
        FISTA's ``t_k`` of the last step taken (0 before the first step, 1
        after a restart); followed whatever ``momentum``, so that a switch
        to ``'fista'`` goes on from the steps taken.
    previous : ndarray or None
        ``x_{k-1}``, the iterate before the last step (None before the first).
    restarted : bool
        Whether the last step restarted: the next look-ahead point is the
        iterate.
    previous_loss : float or None
        ``L(x_k)`` of the last step, with ``restart='function'``.
    n_restarts : int
        Number of restarts so far.
    best_loss : float or None
        The lowest ``L(y_k)`` so far on the current objective, for the
        safeguard of the adaptive step (None before the first step and with
        another step rule; after a change of objective between
        ``partial_fit`` calls, the loss at ``y_{k-1}`` on the new one).
    n_retakes : int
        Number of steps the safeguard took again so far.
    pending : tuple or None
        The next step's evaluation, taken by :meth:`look_ahead` at the end
        of a call: ``(x_k, y_{k+1}, L(y_{k+1}), grad L(y_{k+1}), steps)``,
        used by that step if its iterate and objective are the same.

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
    .. [5] I. Sutskever, J. Martens, G. Dahl and G. Hinton, "On the importance
       of initialization and momentum in deep learning", ICML 2013.
    """

    # The safeguard's state, for a solver saved before it existed.
    best_loss = None
    n_retakes = 0

    def __init__(self, learning_rate, restart=None, momentum="fista"):
        self.restart = restart
        self.momentum = momentum
        self.step_rule = make_step_rule(learning_rate, self.curvature_factor)
        self.t = 0.0
        self.previous = None
        self.restarted = False
        self.previous_loss = None
        self.n_restarts = 0
        self.best_loss = None
        self.n_retakes = 0
        self.pending = None

    @property
    def curvature_factor(self):
        """The adaptive step's ``c``: 1 with the gradient restart, 2 otherwise."""
        if self.restart == "gradient":
            return CURVATURE_FACTOR_WITH_GRADIENT_RESTART
        return CURVATURE_FACTOR

    def step(self, theta, objective):
        """One step from ``x_{k-1} = theta`` to ``x_k`` (in place).

        Returns ``L(y_k)``, the objective where the gradient was taken.
        """
        # x_k = y_k - s_k grad L(y_k): over y_k, or a search's new vector.
        # Under backtracking FISTA's y_k moves with the trial step s_k
        # (through t_k), and the search takes the gradient again at each
        # trial; otherwise y_k is built once.
        rule = self.step_rule
        if type(rule) is FixedStep:
            # What rule.descend does for a fixed step, without its calls
            # and with t_k computed once: they are a visible share of a
            # step on small networks (docs/performance.md, "Costs behind
            # the code's choices").
            t_next = self._next_t(rule.learning_rate, rule.learning_rate)
            new_theta = self._lookahead(theta, t_next)
            loss, gradient = objective.value_and_gradient(new_theta)
            gradient *= rule.learning_rate
            np.subtract(new_theta, gradient, out=new_theta)
            new_loss = None
        elif type(rule) is AdaptiveStep:
            new_theta, loss, gradient, steps = self._descend_safely(theta, objective)
            t_next = self._next_t(*steps)
            new_loss = None
        else:
            new_theta, loss, gradient, new_loss, steps = rule.descend(
                lambda steps: self._lookahead(theta, self._next_t(*steps)),
                objective,
                moves=self.momentum == "fista"
                and self.previous is not None
                and self.t != 1.0,
            )
            t_next = self._next_t(*steps)
        if self.previous is None:
            # y_1 = x_0: the loss just computed is L(x_0).
            self.previous_loss = loss

        if self.restart == "gradient":
            # A fixed or adaptive step scaled the gradient, which keeps its
            # direction, all this test needs.
            restart = dot(gradient, new_theta - theta) > 0.0
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
        self.restarted = restart
        self.n_restarts += restart
        return loss

    def _descend_safely(self, theta, objective):
        """What ``AdaptiveStep.descend`` does, with the safeguard (the
        class's docstring): ``(x_k, L(y_k), s_k grad L(y_k), steps)``."""
        rule = self.step_rule
        pending = self._take_pending(theta)
        if pending is None:
            point, loss, gradient, steps = self._guarded_evaluation(theta, objective)
        elif rule.remeasure(objective):
            # The evaluation of the end of the last call, on its rows.
            point, loss, gradient, steps = pending
        else:
            point, loss, gradient, steps = self._guarded_evaluation(
                theta, objective, False
            )
        if self.best_loss is None or loss < self.best_loss:
            self.best_loss = loss
        gradient *= rule.next_step(point, gradient)
        np.subtract(point, gradient, out=point)
        return point, loss, gradient, steps

    def _guarded_evaluation(self, theta, objective, same_objective=None):
        """``(y_k, L(y_k), grad L(y_k), steps)`` after the safeguard, which
        may take the last step again (``theta``, ``x_{k-1}``, in place).
        ``same_objective``: whether the rule's
        :meth:`~AdaptiveStep.remeasure` found the last objective's (None:
        ask it)."""
        rule = self.step_rule
        steps = rule.steps_ahead()
        point = self._lookahead(theta, self._next_t(*steps))
        loss, gradient = objective.value_and_gradient(point)
        if same_objective is None:
            same_objective = rule.remeasure(objective)
        factor = RUNAWAY_FACTOR
        if not same_objective:
            # The losses seen so far are another objective's. When the rule
            # took its gradient again at y_{k-1} on this one, that point's
            # loss starts the record: a step taken on the last call's rows
            # (a chunk of other targets) that runs away on these is taken
            # again from y_{k-1}, with this objective's gradient. Without it
            # a stream of new chunks had no record past one step per call,
            # and no safeguard at all.
            self.best_loss = rule.remeasured_loss
            factor = NEW_OBJECTIVE_RUNAWAY_FACTOR
        best = self.best_loss
        # A NaN loss compares False: it is taken again too. (With no point
        # of the last step, after a gradient that was not finite, there is
        # nothing to retake from: the divergence rule sees the loss.)
        if best is not None and rule.point is not None and runaway(loss, best, factor):
            point, loss, gradient = self._retake(theta, objective, steps, factor)
            steps = rule.steps_ahead()
        return point, loss, gradient, steps

    def _retake(self, theta, objective, steps, factor=RUNAWAY_FACTOR):
        """The safeguard (the class's docstring): the last step again from
        ``y_{k-1}``, halved until ``L(y_k)`` is within ``RUNAWAY_FACTOR`` of
        the best, with the momentum of the rejected ``y_k`` for the first
        ``MOMENTUM_TRIALS`` trials and none after. Sets ``theta`` to the new
        ``x_{k-1}`` and returns ``y_k`` (a new vector), its loss and its
        gradient; ``steps`` are those the rejected ``y_k`` was built with."""
        rule = self.step_rule
        limit = runaway_limit(self.best_loss, factor)
        if self.previous is None or self.restarted:
            beta = 0.0
        elif self.momentum == "fista":
            beta = (self.t - 1.0) / self._next_t(*steps)
        else:
            beta = self.momentum

        def point_of(retaken, trial):
            if beta and trial < MOMENTUM_TRIALS:
                point = np.subtract(retaken, self.previous)
                point *= beta
                point += retaken
                return point
            return retaken.copy()

        retaken, point, loss, gradient, trial = retake_step(
            rule, objective, limit, point_of
        )
        momentum = beta if trial < MOMENTUM_TRIALS else 0.0
        theta[...] = retaken
        if not momentum:
            # y_k = x_{k-1}: a restart, taken before the step. (With the
            # momentum kept, the function restart compares the next loss
            # with that of the x_{k-1} rejected, which is not computed
            # again: at worst, one restart comes a step late.)
            self.t = 1.0
            self.previous_loss = loss
        self.n_retakes += 1
        return point, loss, gradient

    def _next_t(self, previous_step, step):
        """``t_k`` for the step ``step`` after a step ``previous_step``."""
        if self.previous is None:
            return 1.0
        # Exactly 1 with a fixed step; 1 while the adaptive step has no two
        # steps to compare.
        ratio = previous_step / step if previous_step and step else 1.0
        return (1.0 + math.sqrt(1.0 + 4.0 * ratio * self.t * self.t)) / 2.0

    def _lookahead(self, theta, t_next):
        """``y_k = x_{k-1} + beta_{k-1} (x_{k-1} - x_{k-2})``, a new vector."""
        if self.previous is None or self.restarted:
            return theta.copy()
        if self.momentum == "fista":
            beta = (self.t - 1.0) / t_next
        else:
            beta = self.momentum
        lookahead = np.subtract(theta, self.previous)
        lookahead *= beta
        lookahead += theta
        return lookahead

    @property
    def has_momentum(self):
        """Whether the steps take momentum at all: FISTA's, or a constant
        above 0 (a momentum of 0 makes NAG steepest descent)."""
        return self.momentum == "fista" or self.momentum > 0.0

    @property
    def carries_momentum(self):
        """Whether the next look-ahead point ``y_{k+1}`` differs from the
        iterate ``x_k``: not before the second step, nor after a restart,
        nor with a momentum of 0."""
        if self.previous is None or self.restarted:
            return False
        if self.momentum == "fista":
            return self.t > 1.0
        return self.momentum > 0.0

    def restart_momentum(self):
        """Restart as the adaptive restart does after a step:
        ``y_{k+1} = x_k``, and FISTA's ``t`` starts afresh (``t_k = 1``).
        The training loop calls it when the no-improvement rule finds the
        loss carried above its best on the full batch
        (``TrainingRun._restart_if_carried_uphill``)."""
        self.t = 1.0
        self.restarted = True
        self.n_restarts += 1

    def reset_momentum(self):
        """Start the momentum afresh from the current iterate; keep the step
        and the step rule's state (its last gradient is still one of the
        objective's)."""
        self.t = 0.0
        self.previous = None
        self.restarted = False
        self.previous_loss = None
        # The losses seen were those of the points that led here, not of
        # the iterate kept (the best epoch's, with early stopping): the
        # safeguard starts its record afresh, as it would step back from
        # the last gradient's point, not from this one; the look-ahead's
        # evaluation was of the momentum dropped.
        self.best_loss = None
        self.pending = None


def resolve_momentum(momentum, full_batch):
    """``'auto'``: FISTA's momentum on the full batch, a constant one on
    mini-batches."""
    if momentum != "auto":
        return momentum
    return "fista" if full_batch else MINIBATCH_MOMENTUM


def make_solver(
    solver,
    learning_rate,
    restart,
    momentum,
    tol,
    full_batch,
    continued=None,
    chunk=False,
):
    """The solver an estimator's parameters ask for.

    Parameters
    ----------
    solver : {'gd', 'nag', 'lbfgs'}
        Which solver.
    learning_rate : float or 'auto'
        ``learning_rate_init`` (not used by L-BFGS). ``'auto'`` is the
        adaptive step on the full batch, backtracking on mini-batches (whose
        consecutive gradients, of different rows, measure no curvature) with
        a step that never grows after the first search (``'monotone'``, see
        :class:`~skmlp._solvers.step_size.Backtracking`).
    restart : {None, 'function', 'gradient'}
        NAG's restart.
    momentum : 'auto', 'fista' or float
        NAG's momentum; ``'auto'`` resolves with ``full_batch``.
    tol : float
        L-BFGS's convergence tolerance on the largest gradient entry.
    full_batch : bool
        Whether every step sees all the training rows.
    continued : solver or None
        The solver of the previous ``partial_fit`` call: if of the same
        class, a snapshot of it goes on with the parameters above (a smaller
        rate after a divergence, say), keeping its state; its rows may have
        changed since (see the module's docstring).
    chunk : bool, default=False
        Whether the call is a chunk of a stream (``_training.loop``): its
        full batch is one of many, and ``'auto'`` resolves as on
        mini-batches.

    Returns
    -------
    solver : GradientDescent, NesterovAcceleratedGradient or LBFGS
    """
    if learning_rate == "auto":
        learning_rate = "adaptive" if full_batch and not chunk else "monotone"
    if solver == "gd":
        new = GradientDescent(learning_rate)
    elif solver == "nag":
        momentum = resolve_momentum(momentum, full_batch and not chunk)
        new = NesterovAcceleratedGradient(learning_rate, restart, momentum)
    elif full_batch:
        new = LBFGS(tol=tol)
    else:
        raise ValueError(
            "solver='lbfgs' trains on the full batch: its line search and "
            "curvature pairs need the same objective at every step. Set "
            "batch_size=None (or at least the number of training samples)."
        )
    if type(continued) is not type(new):
        return new
    solver = continued.snapshot()
    if isinstance(solver, NesterovAcceleratedGradient):
        if (solver.restart, solver.momentum) != (restart, momentum):
            # The look-ahead point was built with the last momentum.
            solver.pending = None
        # First: the adaptive step's c follows the restart.
        solver.restart = restart
        solver.momentum = momentum
    elif isinstance(solver, LBFGS):
        solver.tol = tol
    solver.set_learning_rate(learning_rate)
    if isinstance(solver, _Solver):
        if type(solver.step_rule) is not AdaptiveStep:
            # Only the adaptive step's safeguard looks ahead (a stream's
            # rule backtracks): nothing would take the evaluation.
            solver.pending = None
        solver.step_rule.objective_may_have_changed()
    return solver


# The classes a saved model's solver may be rebuilt as.
SOLVER_CLASSES = (GradientDescent, NesterovAcceleratedGradient, LBFGS)
