"""The automatic step from consecutive gradients, against hand computations."""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from fitting import as_rows_without_fingerprints, many_classes
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from tracing import count_calls

import skmlp._evaluation.objective
from skmlp import SoftplusMLPClassifier
from skmlp._evaluation.objective import Objective
from skmlp._math.layout import ParameterLayout
from skmlp._solvers.adaptive_step import AdaptiveStep
from skmlp._solvers.first_order import GradientDescent, NesterovAcceleratedGradient

SQRT_EPS = math.sqrt(np.finfo(np.float64).eps)


def on_grid(step):
    """``step`` rounded down to ``2**(j / 1024)``, the grid of the rule's
    steps, written out."""
    return 2.0 ** (math.floor(1024 * math.log2(step)) / 1024)


class Counted:
    """An objective that counts its evaluations."""

    def __init__(self, objective):
        self.objective = objective
        self.values = self.gradients = 0

    def value(self, x):
        self.values += 1
        return self.objective.value(x)

    def value_and_gradient(self, x):
        self.gradients += 1
        return self.objective.value_and_gradient(x)


class Quadratic:
    """``f(x) = x.A x / 2 - b.x``."""

    def __init__(self, A, b):
        self.A, self.b = np.asarray(A, float), np.asarray(b, float)

    def value(self, x):
        return float(x @ self.A @ x / 2 - self.b @ x)

    def value_and_gradient(self, x):
        return self.value(x), self.A @ x - self.b


class Fixed:
    def __init__(self, step):
        self.step = step

    def next_step(self, point, gradient):
        return self.step


def gradient_descent(objective, x, n_steps, rule, safeguard=None, look_ahead=True):
    """``x <- x - s_k grad f(x)`` with ``s_k`` from ``rule``; the iterates.

    With ``safeguard`` (a list, which counts the retakes), the safeguard
    of GD's adaptive step as the user guide states it: an ``x_k`` whose
    loss is more than 1.1 times the best before it is stepped to again
    from ``x_{k-1}`` at half the last step, halved again until it is
    within (NAG's, without momentum); and, with ``look_ahead``, the model
    is the last iterate as the safeguard of the next step leaves it.
    """
    x = x.copy()
    iterates = []
    best = last_x = last_gradient = None
    look_ahead = look_ahead and safeguard is not None
    for k in range(n_steps + look_ahead):
        loss, gradient = objective.value_and_gradient(x)
        if safeguard is not None and best is not None and not loss <= 1.1 * best:
            step, trials = rule.learning_rate, 0
            while trials == 0 or loss > 1.1 * best:
                step /= 2.0
                trials += 1
                x = last_x - step * last_gradient
                loss, gradient = objective.value_and_gradient(x)
            rule.learning_rate = rule.previous_learning_rate = step
            rule.growth = 0.0
            safeguard.append(trials)
        if k == n_steps:
            iterates[-1] = x.copy()
            break
        best = loss if best is None else min(best, loss)
        last_x, last_gradient = x.copy(), gradient.copy()
        x -= rule.next_step(x, gradient) * gradient
        iterates.append(x.copy())
    return iterates


def fista(objective, x, n_steps, rule, restart=None, safeguard=None, look_ahead=True):
    """FISTA, gradient at the look-ahead ``y_k``, ``t_k`` by Scheinberg,
    Goldfarb and Bai's rule with the last two steps known (the step of
    ``x_k`` comes with ``grad f(y_k)``, after ``y_k`` was built); the iterates.

    With ``safeguard`` (a list, which counts the retakes), NAG's safeguard
    as the user guide states it: a ``y_k`` whose loss is more than 1.1
    times the best before it is taken again from ``y_{k-1}`` at half the
    last step, halved again until it is within, with the momentum of the
    rejected ``y_k`` for two trials and none after; and, with
    ``look_ahead``, the model is the last iterate as the safeguard of the
    next step leaves it.
    """
    previous, t, steps = None, 0.0, [None, None]
    best = last_y = last_gradient = None
    iterates = []
    look_ahead = look_ahead and safeguard is not None
    for k in range(n_steps + look_ahead):
        if previous is None:
            t_next, beta = 1.0, 0.0
        else:
            ratio = steps[0] / steps[1] if steps[0] else 1.0
            t_next = (1.0 + math.sqrt(1.0 + 4.0 * ratio * t * t)) / 2.0
            beta = (t - 1.0) / t_next
        y = x.copy() if previous is None else x + beta * (x - previous)
        loss, gradient = objective.value_and_gradient(y)
        if safeguard is not None and best is not None and not loss <= 1.1 * best:
            step = steps[1]
            for trial in range(1, 65):
                step /= 2.0
                x = last_y - step * last_gradient
                momentum = beta if trial <= 2 else 0.0
                y = x + momentum * (x - previous) if momentum else x.copy()
                loss, gradient = objective.value_and_gradient(y)
                if loss <= 1.1 * best:
                    break
            if not momentum:
                t = 1.0
            # The rule goes on from the retaken step, with no growth.
            steps = [step, step]
            rule.learning_rate = rule.previous_learning_rate = step
            rule.growth = 0.0
            t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
            safeguard.append(trial)
        if k == n_steps:
            iterates[-1] = x
            break
        best = loss if best is None else min(best, loss)
        last_y, last_gradient = y.copy(), gradient.copy()
        steps = [steps[1], rule.next_step(y, gradient)]
        new = y - steps[1] * gradient
        restarted = restart == "gradient" and float(gradient @ (new - x)) > 0.0
        previous, x = x, new
        t = 1.0 if restarted else t_next
        iterates.append(x)
    return iterates


@pytest.mark.parametrize("restart", [None, "gradient"])
def test_the_reference_loops_with_a_fixed_step_are_skmlps_solvers(logistic, restart):
    # What the rule is driven by here is what it will be composed into.
    objective, x_star, _ = logistic
    x0 = np.full_like(x_star, 0.3)
    for run, solver in [
        (gradient_descent, GradientDescent(3.0)),
        (fista, NesterovAcceleratedGradient(3.0, restart)),
    ]:
        args = () if run is gradient_descent else (restart,)
        ours = run(objective, x0, 40, Fixed(3.0), *args)
        theta = x0.copy()
        for x in ours:
            solver.step(theta, objective)
            np.testing.assert_array_equal(theta, x)


def test_the_step_on_a_quadratic_follows_the_rule_by_hand():
    # On a quadratic, x_k - x_{k-1} = -s_{k-1} g_{k-1} and g_k - g_{k-1} =
    # A (x_k - x_{k-1}): the curvature seen is ||A g_{k-1}|| / ||g_{k-1}||,
    # exactly, with no difference of rounded vectors.
    A = np.diag([1.0, 4.0, 10.0, 30.0])
    quadratic = Quadratic(A, [1.0, 1.0, 1.0, 1.0])
    x = np.array([1.0, -2.0, 1.0, 0.5])
    rule = AdaptiveStep(curvature_factor=2.0)
    _, g = quadratic.value_and_gradient(x)
    expected = on_grid(SQRT_EPS * np.linalg.norm(x) / np.linalg.norm(g))
    growth = math.inf
    capped_by = set()
    for _ in range(40):
        _, g = quadratic.value_and_gradient(x)
        step = rule.next_step(x, g)
        assert step == pytest.approx(expected, rel=1e-6)
        x = x - step * g
        _, g_next = quadratic.value_and_gradient(x)
        grown = math.sqrt(1 + growth) * step
        local = np.linalg.norm(g) / (2 * np.linalg.norm(A @ g))
        capped_by.add("growth" if grown < local else "curvature")
        expected = on_grid(min(grown, local))
        growth = expected / step
    # Both terms of the min were exercised.
    assert capped_by == {"growth", "curvature"}


def test_the_step_from_given_gradients_by_hand():
    rule = AdaptiveStep(curvature_factor=1.0)
    x0, g0 = np.array([3.0, 4.0]), np.array([0.0, 1.0])
    probe = on_grid(SQRT_EPS * 5.0)
    assert rule.next_step(x0, g0) == probe < SQRT_EPS * 5.0
    # Curvature ||(0, 2)|| / ||(1, 0)|| = 2; nothing caps the first estimate,
    # and 0.5 lies on the grid.
    assert rule.next_step(np.array([4.0, 4.0]), np.array([0.0, 3.0])) == 0.5
    assert rule.growth == 0.5 / probe
    # Curvature 0.01 / 1: the growth cap sqrt(1 + theta) * 0.5 holds instead.
    rule.growth = 1.0
    assert rule.next_step(np.array([4.0, 5.0]), np.array([0.0, 3.01])) == on_grid(
        math.sqrt(2.0) * 0.5
    )
    assert rule.growth == pytest.approx(math.sqrt(2.0), rel=1e-3)


@pytest.mark.parametrize("L", [0.5, 3.0, 100.0])
def test_gd_on_a_scalar_quadratic_halves_x_at_each_step(L):
    quadratic = Quadratic([[L]], [0.0])
    rule = AdaptiveStep(curvature_factor=2.0)
    iterates = gradient_descent(quadratic, np.array([1.0]), 30, rule)
    # The first step is a short probe; then the step is 1 / (2 L), exactly
    # the curvature's, rounded down to the grid, and x_{k+1} = x_k - s L x_k:
    # x halves, to within the grid (0.07%).
    step = on_grid(1 / (2 * L))
    assert rule.learning_rate == step
    ratios = [b[0] / a[0] for a, b in zip(iterates[:-1], iterates[1:])]
    np.testing.assert_allclose(ratios, 1 - step * L, rtol=1e-6)
    np.testing.assert_allclose(ratios, 0.5, rtol=2e-3)


@pytest.mark.parametrize("restart", [None, "gradient"])
def test_fista_with_step_one_over_L_on_a_scalar_quadratic_lands_on_zero(restart):
    L = 7.0
    quadratic = Quadratic([[L]], [0.0])
    iterates = fista(quadratic, np.array([1.0]), 20, AdaptiveStep(1.0), restart)
    # Step 1 is the probe; from step 2 on, s = 1/L rounded down to the grid,
    # and y - s L y = (1 - s L) y: all but 0.07% of y is gone at each step.
    assert abs(iterates[0][0]) > 0.5
    contraction = 1 - on_grid(1 / L) * L
    assert 0 < contraction < 7e-4
    assert abs(iterates[1][0]) <= contraction * abs(iterates[0][0]) * (1 + 1e-9)
    assert max(abs(x[0]) for x in iterates[7:]) < 1e-12


@pytest.fixture(scope="module")
def logistic():
    """Logistic regression on Iris (no hidden layer), alpha = 1, and its
    optimum from scikit-learn (C = 1 / alpha)."""
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    alpha = 1.0
    layout = ParameterLayout((4, 3))
    objective = Objective(layout, X, y, np.ones(len(y)), alpha)
    reference = LogisticRegression(C=1 / alpha, tol=1e-13, max_iter=10_000)
    reference.fit(X, y)
    x_star = np.concatenate([reference.coef_.T.ravel(), reference.intercept_])
    X_aug = np.hstack([X, np.ones((len(y), 1))])
    lipschitz = 0.5 * np.linalg.norm(X_aug, 2) ** 2 / len(y) + alpha / len(y)
    return objective, x_star, lipschitz


@pytest.mark.parametrize(
    "method, curvature_factor, restart",
    [("gd", 2.0, None), ("nag", 1.0, "gradient"), ("nag", 2.0, None)],
)
def test_logistic_regression_reaches_scikit_learns_optimum(
    logistic, method, curvature_factor, restart
):
    objective, x_star, lipschitz = logistic
    f_star = objective.value(x_star)
    x0 = np.zeros_like(x_star)
    rule = AdaptiveStep(curvature_factor)
    run = gradient_descent if method == "gd" else fista
    restart_args = () if method == "gd" else (restart,)
    iterates = run(objective, x0, 300, rule, *restart_args)
    fixed = run(objective, x0, 50, Fixed(1 / lipschitz), *restart_args)
    gap = objective.value(iterates[-1]) - f_star
    assert abs(gap) < 1e-10
    # The smallest curvature is about alpha / n = 1 / 150: a gap of 1e-12
    # leaves the parameters up to sqrt(2 * 150 * 1e-12) ~ 2e-5 apart.
    np.testing.assert_allclose(iterates[-1], x_star, atol=1e-4)
    # Measured after 50 steps: gaps 150 to 2400 times smaller than with the
    # fixed step 1 / L of the global bound.
    early_gap = objective.value(iterates[49]) - f_star
    assert early_gap < 0.02 * (objective.value(fixed[-1]) - f_star)


@pytest.mark.parametrize("method", ["gd", "nag"])
def test_the_rule_costs_no_evaluation_beyond_the_solvers_gradient(logistic, method):
    objective, x_star, lipschitz = logistic
    run = gradient_descent if method == "gd" else fista
    counts = []
    for rule in (Fixed(1 / lipschitz), AdaptiveStep()):
        counted = Counted(objective)
        run(counted, np.zeros_like(x_star), 50, rule)
        counts.append((counted.values, counted.gradients))
    # One gradient per step, no loss: as many as with a fixed step.
    assert counts == [(0, 50), (0, 50)]


def test_forget_keeps_the_step_and_waits_for_a_new_pair():
    quadratic = Quadratic(np.diag([1.0, 8.0]), [1.0, 0.0])
    rule = AdaptiveStep()
    gradient_descent(quadratic, np.array([2.0, 1.0]), 10, rule)
    step = rule.learning_rate
    rule.forget()
    # A gradient from a different objective: no curvature is measured
    # across the change, the last step is used as it is.
    assert rule.next_step(np.array([5.0, 5.0]), np.array([-9.0, 4.0])) == step
    # The next one comes from the curvature alone (4 along this move),
    # however far that is from the last step.
    x = np.array([5.0, 5.0]) - step * np.array([-9.0, 4.0])
    assert rule.next_step(x, np.array([-9.0, 4.0]) + 4.0 * (x - [5.0, 5.0])) == (
        pytest.approx(1 / 8)
    )


def test_a_gradient_that_is_not_finite_is_passed_through_unmeasured():
    rule = AdaptiveStep()
    assert rule.next_step(np.ones(2), np.array([np.nan, 1.0])) == 0.0
    assert rule.point is None
    step = rule.next_step(np.ones(2), np.array([1.0, 1.0]))
    point, gradient = rule.point.copy(), rule.gradient.copy()
    assert rule.next_step(np.zeros(2), np.array([np.inf, 0.0])) == step
    np.testing.assert_array_equal(rule.point, point)
    np.testing.assert_array_equal(rule.gradient, gradient)


def test_a_zero_first_gradient_waits_for_a_direction():
    rule = AdaptiveStep()
    assert rule.next_step(np.ones(2), np.zeros(2)) == 0.0
    assert rule.learning_rate == 0.0 and rule.point is None
    assert rule.next_step(np.ones(2), np.array([0.0, 2.0])) == SQRT_EPS * (
        math.sqrt(2.0) / 2.0
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_gradient_whose_squares_overflow_is_measured_as_a_finite_one(dtype):
    # Entries of 1e200 (float64) or 1e30 (float32) are finite, their squares
    # are not: the norms, written out, are those of the vectors scaled down.
    big = 1e200 if dtype is np.float64 else 1e30
    point = np.array([3.0, 4.0], dtype=dtype)
    gradient = np.array([3.0, 4.0], dtype=dtype) * dtype(big)
    rule = AdaptiveStep()
    # Overflow is silenced where the training loop runs the rule: the sum of
    # squares is inf on the way to the norm.
    with np.errstate(over="ignore"):
        first = rule.next_step(point, gradient)
    eps = np.finfo(dtype).eps
    assert first == pytest.approx(on_grid(math.sqrt(eps) * 5.0 / (5.0 * big)))
    assert first > 0.0
    # A second pair: moved by (1, 0), the gradient turned by (big, 0), so
    # the curvature is big and the step 1 / (2 big), against the growth
    # cap sqrt(2) * first.
    moved_point = point + np.array([1.0, 0.0], dtype=dtype)
    turned = gradient + np.array([big, 0.0], dtype=dtype)
    with np.errstate(over="ignore"):
        second = rule.next_step(moved_point, turned)
    assert second == pytest.approx(
        on_grid(min(math.sqrt(2.0) * first, 1.0 / (2.0 * big))), rel=1e-6
    )


@pytest.mark.parametrize(
    "dtype, scale", [(np.float64, 1e200), (np.float64, 1e300), (np.float32, 1e30)]
)
@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_auto_trains_on_inputs_whose_gradients_square_to_inf(dtype, scale, solver):
    # Before the norm was taken with care, the first step of such inputs
    # was 0 and stayed 0: 200 epochs that left the initial weights as they
    # were, with only a ConvergenceWarning (training accuracy 0.57).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    X = (X * scale).astype(dtype)
    clf = SoftplusMLPClassifier(solver=solver, random_state=0).fit(X, y)
    assert clf.learning_rate_ > 0.0
    assert clf.loss_ < 1e-3 * clf.loss_curve_[0]
    assert clf.score(X, y) == 1.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_gradient_whose_squares_underflow_is_measured_as_a_nonzero_one(dtype):
    # Entries of 1e-170 (float64) or 1e-25 (float32) are normal numbers,
    # their squares underflow to zero: the rule saw no curvature, and only
    # the growth cap held. The norms, written out, are those of the vectors
    # scaled up.
    tiny = 1e-170 if dtype is np.float64 else 1e-25
    point = np.array([3.0, 4.0], dtype=dtype)
    gradient = np.array([3.0, 4.0], dtype=dtype) * dtype(tiny)
    rule = AdaptiveStep(learning_rate=1.0)
    with np.errstate(under="ignore"):
        assert rule.next_step(point, gradient) == 1.0
        # Moved by (1, 0), the gradient turned by (tiny, 0): the curvature
        # is tiny, and the step 1 / (2 tiny) is below the cap of an
        # unlimited growth (no pair before).
        second = rule.next_step(
            point + np.array([1.0, 0.0], dtype=dtype),
            gradient + np.array([tiny, 0.0], dtype=dtype),
        )
    assert second == pytest.approx(on_grid(1.0 / (2.0 * tiny)), rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_step_stays_below_the_overflow_of_the_parameters_dtype(dtype):
    # A curvature too small to invert (a step of 1e309, or 1e39 in
    # float32) was an infinite step, or one that is inf in the parameters'
    # dtype: its move was inf, or NaN where the gradient is zero.
    largest = float(np.finfo(dtype).max)
    point = np.array([1.0, 0.0], dtype=dtype)
    gradient = np.array([1.0, 0.0], dtype=dtype) * dtype(1e-10)
    rule = AdaptiveStep(learning_rate=largest / 4)
    rule.next_step(point, gradient)
    # Moved by 1, the gradient turned by 1e-310 (float64; 1e-40 in
    # float32): the bound 1 / (2 turned) is past the largest number.
    turned = dtype(1e-310 if dtype is np.float64 else 1e-40)
    with np.errstate(under="ignore", over="ignore"):
        step = rule.next_step(
            point + np.array([0.0, 1.0], dtype=dtype),
            gradient + np.array([0.0, turned], dtype=dtype),
        )
    assert largest / 2 < step <= largest
    assert step == on_grid(step)
    assert np.isfinite(dtype(step) * gradient).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_first_probe_on_an_underflowed_gradient_stays_below_the_overflow(dtype):
    # sqrt(eps) / 1e-315 is inf: the probe of a refit of a model whose loss
    # underflowed to 0 was an inf step, its move NaN, and the refit a
    # DivergenceError. It is capped as every later step is.
    tiny = np.finfo(dtype).smallest_subnormal
    point = np.array([1.0, 2.0], dtype=dtype)
    gradient = np.array([tiny, 0.0], dtype=dtype)
    step = AdaptiveStep().next_step(point, gradient)
    largest = float(np.finfo(dtype).max)
    assert largest / 2 < step <= largest
    assert np.isfinite(dtype(step) * gradient).all()


def test_a_warm_refit_of_a_model_of_zero_loss_keeps_it():
    # NAG for 2000 steps on separated classes, alpha=0: the loss underflows
    # to 0 and the gradient to about 1e-315. A warm-start fit on the same
    # rows starts the probe again, whose step was inf.
    from sklearn.datasets import make_blobs

    X, y = make_blobs(
        200, 2, centers=[[-3, 0], [3, 0]], cluster_std=0.5, random_state=0
    )
    params = dict(alpha=0.0, tol=0.0, n_iter_no_change=np.inf, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SoftplusMLPClassifier((5,), max_iter=2000, **params).fit(X, y)
        assert clf.loss_ == 0.0
        clf.set_params(warm_start=True, max_iter=20).fit(X, y)
    assert clf.n_iter_ == 20  # this fit alone (the docstring of warm_start)
    assert clf.score(X, y) == 1.0
    assert all(np.isfinite(c).all() for c in clf.coefs_)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_auto_trains_on_separated_classes_with_no_penalty_to_a_loss_of_zero(
    dtype, solver
):
    # Two clusters ten standard deviations apart in each feature, alpha=0
    # and tol=0: the loss goes to zero, the gradients shrink towards the
    # smallest numbers and the step grows as the inverse curvature. In
    # float32 it passed 3.4e38 after about 230 steps ('gd'; fewer with
    # 'nag') and the fit raised a DivergenceError, losing a model of
    # training accuracy 1.
    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(50, 2) + 5, rng.randn(50, 2) - 5].astype(dtype)
    y = np.r_[np.zeros(50), np.ones(50)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SoftplusMLPClassifier(
            solver=solver, alpha=0.0, tol=0.0, max_iter=1000, random_state=0
        ).fit(X, y)
    assert clf.n_iter_ == 1000
    # Zero here, as the log-probabilities round to 0; a bound keeps the
    # test off the last bit of exp on other processors.
    assert clf.loss_ < 1e-12
    assert clf.score(X, y) == 1.0
    assert 0.0 < clf.learning_rate_ <= np.finfo(dtype).max
    assert all(np.isfinite(c).all() for c in clf.coefs_)


def test_a_snapshot_is_independent_of_the_rule():
    rule = AdaptiveStep()
    rule.next_step(np.ones(3), np.array([1.0, 2.0, 3.0]))
    snapshot = rule.snapshot()
    rule.next_step(np.zeros(3), np.array([2.0, 2.0, 2.0]))
    assert snapshot.learning_rate == on_grid(
        SQRT_EPS * math.sqrt(3.0) / math.sqrt(14.0)
    )
    assert snapshot.growth == math.inf
    np.testing.assert_array_equal(snapshot.point, np.ones(3))
    np.testing.assert_array_equal(snapshot.gradient, [1.0, 2.0, 3.0])
    rule.point[...] = 7.0
    np.testing.assert_array_equal(snapshot.point, np.ones(3))


# The estimator: learning_rate_init='auto' on the full batch is the rule.

ALPHA = 1e-4  # the estimator's default
HIDDEN = (6,)
# (solver, restart, c): c = 1 with NAG's gradient restart, 2 otherwise.
FULL_BATCH_CASES = [("gd", None, 2.0), ("nag", None, 2.0), ("nag", "gradient", 1.0)]


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def network(X, y):
    """The layout, the estimator's starting point (random_state=0) and the
    objective of the rows ``X``, ``y``."""
    layout = ParameterLayout((X.shape[1], *HIDDEN, 3))
    theta = layout.initialize(check_random_state(0), np.float64)
    return layout, theta, Objective(layout, X, y, np.ones(len(y)), ALPHA)


def auto(**params):
    params = {"learning_rate_init": "auto", "random_state": 0, "tol": 0.0, **params}
    return SoftplusMLPClassifier(HIDDEN, **params)


def fitted(clf, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


def point(layout, clf):
    return layout.pack(clf.coefs_, clf.intercepts_, np.float64)


@pytest.mark.parametrize("solver, restart, c", FULL_BATCH_CASES)
def test_auto_on_the_full_batch_is_the_adaptive_rule_step_for_step(
    iris, solver, restart, c
):
    X, y = iris
    layout, theta, objective = network(X, y)
    rule = AdaptiveStep(c)
    retakes = []
    if solver == "gd":
        iterates = gradient_descent(objective, theta, 20, rule, safeguard=retakes)
    else:
        iterates = fista(objective, theta, 20, rule, restart, safeguard=retakes)
    clf = fitted(auto(solver=solver, restart=restart, max_iter=20), X, y)
    np.testing.assert_array_equal(point(layout, clf), iterates[-1])
    assert clf.learning_rate_ == rule.learning_rate
    assert clf._solver.n_retakes == len(retakes)


@pytest.mark.parametrize("seed, restart, c", [(0, None, 2.0), (3, "gradient", 1.0)])
def test_the_safeguard_is_the_reference_step_for_step(seed, restart, c):
    # 50 classes on 100 rows, where NAG's adaptive step ran away from its
    # best loss before the safeguard: the fit is the reference loop with
    # the safeguard as the user guide states it, to the bit, and takes
    # steps again both with the momentum kept and with it dropped.
    X, y = many_classes(seed)
    clf = fitted(
        SoftplusMLPClassifier(
            learning_rate_init="auto",
            solver="nag",
            restart=restart,
            random_state=0,
            tol=0.0,
        ),
        X,
        y,
    )
    _, codes = np.unique(y, return_inverse=True)
    layout = ParameterLayout((X.shape[1], 100, codes.max() + 1))
    theta = layout.initialize(check_random_state(0), np.float64)
    objective = Objective(layout, X, codes, np.ones(len(y)), ALPHA)
    retakes = []
    iterates = fista(
        objective, theta, clf.n_iter_, AdaptiveStep(c), restart, safeguard=retakes
    )
    np.testing.assert_array_equal(point(layout, clf), iterates[-1])
    assert clf._solver.n_retakes == len(retakes)
    assert min(retakes) == 1 and max(retakes) > 2


@pytest.mark.parametrize(
    "case, solver, restart, c, n_steps",
    [("iris", "gd", None, 2.0, 19), ("many_classes", "nag", "gradient", 1.0, 49)],
)
def test_a_fit_ends_on_the_iterate_the_next_steps_safeguard_leaves(
    iris, case, solver, restart, c, n_steps
):
    # The steps' safeguard looks at the points of their gradients, so the
    # iterate that ends a fit was looked at by no step: here it is more than
    # 1.1 times the best loss, and the next step would take the last one
    # again. The fit ends on the iterate that the next step's safeguard
    # leaves, to the bit the reference's; before, it ended on the one that
    # ran away. The next call goes on from there as fit(max_iter=N + 1).
    params = dict(solver=solver, restart=restart)
    if case == "iris":
        X, y = iris
        layout, theta, objective = network(X, y)
        estimator = auto(**params)
    else:
        X, y = many_classes(3)
        _, codes = np.unique(y, return_inverse=True)
        layout = ParameterLayout((X.shape[1], 100, codes.max() + 1))
        theta = layout.initialize(check_random_state(0), np.float64)
        objective = Objective(layout, X, codes, np.ones(len(y)), ALPHA)
        params.update(learning_rate_init="auto", random_state=0, tol=0.0)
        estimator = SoftplusMLPClassifier(**params)
    clf = fitted(clone(estimator).set_params(max_iter=n_steps), X, y)
    reference = fista if solver == "nag" else gradient_descent
    args = (restart,) if solver == "nag" else ()
    runs = {}
    for look_ahead in (False, True):
        retakes, rule = [], AdaptiveStep(c)
        iterates = reference(
            objective,
            theta,
            n_steps,
            rule,
            *args,
            safeguard=retakes,
            look_ahead=look_ahead,
        )
        runs[look_ahead] = iterates[-1], retakes, rule
    kept, retakes, rule = runs[True]
    np.testing.assert_array_equal(point(layout, clf), kept)
    assert clf.learning_rate_ == rule.learning_rate
    assert clf._solver.n_retakes == len(retakes) == len(runs[False][1]) + 1
    best = min(clf.loss_curve_)
    assert objective.value(runs[False][0]) > 1.1 * best > objective.value(kept)
    clf.partial_fit(X, y)
    longer = fitted(clone(estimator).set_params(max_iter=n_steps + 1), X, y)
    np.testing.assert_array_equal(point(layout, clf), point(layout, longer))
    assert clf.loss_curve_ == longer.loss_curve_


@pytest.mark.parametrize("solver, restart, _", FULL_BATCH_CASES)
def test_auto_on_the_full_batch_costs_one_gradient_per_step_and_no_loss(
    iris, solver, restart, _
):
    X, y = iris
    counts = {"value": 0, "value_and_gradient": 0}
    clf = auto(solver=solver, restart=restart, max_iter=10)
    with count_calls(counts, skmlp._evaluation.objective.__file__):
        fitted(clf, X, y)
    # One gradient more, the next step's, taken at the end for its
    # safeguard; not even a loss for the check of the final point, which a
    # bound on the loss settles on Iris.
    assert counts == {"value": 0, "value_and_gradient": 11}
    # A call on the rows of the last one goes on as fit does, at one
    # gradient per step: the last gradient is still its objective's.
    for _ in range(3):
        counts = dict.fromkeys(counts, 0)
        with count_calls(counts, skmlp._evaluation.objective.__file__):
            clf.partial_fit(X, y)
        assert counts == {"value": 0, "value_and_gradient": 1}


def _gradients_of_partial_fit(clf, *args, **kwargs):
    counts = {"value_and_gradient": 0}
    with count_calls(counts, skmlp._evaluation.objective.__file__):
        clf.partial_fit(*args, **kwargs)
    return counts["value_and_gradient"]


def test_a_continued_partial_fit_takes_the_last_gradient_again_on_another_objective(
    iris, monkeypatch
):
    # The adaptive step across calls on other rows: that of rows without
    # fingerprints (a Dask cluster's); in memory they are chunks.
    as_rows_without_fingerprints(monkeypatch)
    # The rows are told apart by their values, not by the array that holds
    # them: a copy is the same objective; one number, a weight or alpha
    # changed is another, whose curvature the step must measure alone (one
    # gradient more, once per call), and on which the evaluation that the
    # last call took for its next step is not that step's (one gradient
    # more again). A call on other rows than the last reads a sample of its
    # rows only, so that a loop over chunks does not read each twice; the
    # call after it, on the same rows, reads them all, and so measures once
    # more (three gradients): from the next on, one.
    X, y = iris
    clf = fitted(auto(max_iter=5), X, y)
    assert _gradients_of_partial_fit(clf, X.copy(), y.copy()) == 1
    assert _gradients_of_partial_fit(clf, X[:100], y[:100]) == 3
    assert _gradients_of_partial_fit(clf, X[:100], y[:100]) == 3
    assert _gradients_of_partial_fit(clf, X[:100], y[:100]) == 1
    # One number of a row outside the sample, one ulp away.
    nudged = X[:100].copy()
    nudged[7, 2] = np.nextafter(nudged[7, 2], np.inf)
    assert _gradients_of_partial_fit(clf, nudged, y[:100]) == 3
    assert _gradients_of_partial_fit(clf, nudged, y[:100]) == 1
    weights = np.ones(100)
    assert _gradients_of_partial_fit(clf, nudged, y[:100], sample_weight=weights) == 1
    weights[3] = 2.0
    assert _gradients_of_partial_fit(clf, nudged, y[:100], sample_weight=weights) == 3
    assert _gradients_of_partial_fit(clf, nudged, y[:100], sample_weight=weights) == 1
    clf.set_params(alpha=0.01)
    assert _gradients_of_partial_fit(clf, nudged, y[:100], sample_weight=weights) == 3
    csr = sp.csr_matrix(nudged)
    assert _gradients_of_partial_fit(clf, csr, y[:100], sample_weight=weights) == 3
    assert _gradients_of_partial_fit(clf, csr, y[:100], sample_weight=weights) == 3
    assert _gradients_of_partial_fit(clf, csr, y[:100], sample_weight=weights) == 1


def test_a_partial_fit_that_keeps_its_gradient_goes_on_as_one_that_takes_it_again(
    iris,
):
    # Keeping the last gradient is exact: the model is, to the bit, the one
    # of a solver that takes it again (the rule before the fingerprints),
    # over calls on the same rows and on others.
    X, y = iris
    calls = [(X, y)] * 4 + [(X[:90], y[:90])] * 3 + [(X, y)] * 3
    kept, retaken = auto(), auto()
    for rows in calls:
        kept.partial_fit(*rows, classes=[0, 1, 2])
        retaken.partial_fit(*rows, classes=[0, 1, 2])
        # Forget the fingerprints: the next call cannot tell its rows.
        retaken._solver.step_rule.sampled_rows = ""
    for a, b in zip(
        kept.coefs_ + kept.intercepts_, retaken.coefs_ + retaken.intercepts_
    ):
        np.testing.assert_array_equal(a, b)
    assert kept.loss_curve_ == retaken.loss_curve_
    assert kept.learning_rate_ == retaken.learning_rate_


@pytest.mark.parametrize("solver, restart, _", FULL_BATCH_CASES)
def test_partial_fit_with_auto_goes_on_exactly_as_fit(iris, solver, restart, _):
    X, y = iris
    whole = fitted(auto(solver=solver, restart=restart, max_iter=12), X, y)
    incremental = auto(solver=solver, restart=restart)
    for _ in range(12):
        incremental.partial_fit(X, y, classes=[0, 1, 2])
    for a, b in zip(
        incremental.coefs_ + incremental.intercepts_, whole.coefs_ + whole.intercepts_
    ):
        np.testing.assert_array_equal(a, b)
    assert incremental.loss_curve_ == whole.loss_curve_
    assert incremental.learning_rate_ == whole.learning_rate_


def test_partial_fit_on_other_rows_measures_the_curvature_of_those_rows(
    iris, monkeypatch
):
    # The adaptive step across calls on other rows: that of rows without
    # fingerprints (a Dask cluster's); in memory they are chunks.
    as_rows_without_fingerprints(monkeypatch)
    X, y = iris
    first = np.arange(len(y)) % 2 == 0
    layout, _, other = network(X[~first], y[~first])
    # GD's last gradient was taken at the point before the last step.
    before = fitted(auto(solver="gd", max_iter=9), X[first], y[first])
    clf = fitted(auto(solver="gd", max_iter=10), X[first], y[first])
    x_before, x = point(layout, before), point(layout, clf)
    growth = clf.learning_rate_ / before.learning_rate_
    grown = math.sqrt(1 + growth) * clf.learning_rate_

    def step_from(g_before):
        _, g = other.value_and_gradient(x)
        curvature = np.linalg.norm(g - g_before) / np.linalg.norm(x - x_before)
        return on_grid(min(grown, 1 / (2 * curvature))), g

    expected, g = step_from(other.value_and_gradient(x_before)[1])
    clf.partial_fit(X[~first], y[~first])
    assert clf.learning_rate_ == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(point(layout, clf), x - expected * g, rtol=1e-12)
    # With the first rows' last gradient the step would be another.
    _, old_objective = network(X[first], y[first])[1:]
    mixed, _ = step_from(old_objective.value_and_gradient(x_before)[1])
    assert abs(mixed / expected - 1) > 0.01


def test_switching_learning_rate_init_between_partial_fit_calls(iris):
    X, y = iris
    layout, _, objective = network(X, y)
    clf = auto(solver="gd", learning_rate_init=0.1)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    x_a = point(layout, clf)
    clf.set_params(learning_rate_init="auto").partial_fit(X, y)
    # No last gradient yet: the adaptive rule starts from the step in use.
    assert clf.learning_rate_ == 0.1
    x_b = point(layout, clf)
    clf.partial_fit(X, y)
    # Then the curvature between the two gradients alone (no growth cap).
    _, g_a = objective.value_and_gradient(x_a)
    _, g_b = objective.value_and_gradient(x_b)
    expected = on_grid(np.linalg.norm(x_b - x_a) / (2 * np.linalg.norm(g_b - g_a)))
    assert clf.learning_rate_ == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(point(layout, clf), x_b - expected * g_b, rtol=1e-12)
    # Back to a float: a fixed step, exactly.
    x_c = point(layout, clf)
    clf.set_params(learning_rate_init=0.3).partial_fit(X, y)
    assert clf.learning_rate_ == 0.3
    _, g_c = objective.value_and_gradient(x_c)
    np.testing.assert_array_equal(point(layout, clf), x_c - 0.3 * g_c)
    clf.set_params(learning_rate_init="auto").partial_fit(X, y)
    assert clf.learning_rate_ == 0.3


def test_auto_moves_between_backtracking_and_the_adaptive_step_with_the_rows(
    iris, monkeypatch
):
    # The adaptive step across calls on other rows: that of rows without
    # fingerprints (a Dask cluster's); in memory they are chunks.
    as_rows_without_fingerprints(monkeypatch)
    X, y = iris
    layout, _, objective = network(X[:40], y[:40])
    clf = auto(solver="gd", batch_size=50)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    searched = clf.learning_rate_
    assert math.log2(searched).is_integer()
    # 40 rows fit in one batch of 50: the adaptive step starts from the
    # searched one, then measures the curvature.
    x_a = point(layout, clf)
    clf.partial_fit(X[:40], y[:40])
    assert clf.learning_rate_ == searched
    x_b = point(layout, clf)
    clf.partial_fit(X[:40], y[:40])
    _, g_a = objective.value_and_gradient(x_a)
    _, g_b = objective.value_and_gradient(x_b)
    expected = on_grid(np.linalg.norm(x_b - x_a) / (2 * np.linalg.norm(g_b - g_a)))
    assert clf.learning_rate_ == pytest.approx(expected, rel=1e-10)
    # Back to mini-batches: a search from the adaptive step.
    counts = {"value": 0, "value_and_gradient": 0}
    with count_calls(counts, skmlp._evaluation.objective.__file__):
        clf.partial_fit(X, y)
    assert counts["value"] >= 3 + 1


def test_auto_in_float32_trains_in_float32(iris):
    X, y = iris
    clf = fitted(auto(max_iter=50), X.astype(np.float32), y)
    assert clf.coefs_[0].dtype == np.float32
    assert clf.loss_curve_[-1] < 0.2 * clf.loss_curve_[0]


@pytest.mark.parametrize("momentum", ["fista", 0.9])
def test_auto_on_mini_batches_still_searches_by_backtracking(iris, momentum):
    X, y = iris
    counts = {"value": 0, "value_and_gradient": 0}
    clf = auto(batch_size=50, max_iter=3, momentum=momentum)
    with count_calls(counts, skmlp._evaluation.objective.__file__):
        fitted(clf, X, y)
    # Each of the 9 steps tries at least one step by its loss; the steps
    # are powers of two.
    assert counts["value"] >= 9 + 1
    assert math.log2(clf.learning_rate_).is_integer()


def test_reset_momentum_leaves_the_adaptive_step_alone(logistic):
    objective, x_star, _ = logistic
    solver = NesterovAcceleratedGradient("adaptive", restart="gradient")
    theta = np.zeros_like(x_star)
    for _ in range(5):
        solver.step(theta, objective)
    rule = solver.step_rule
    state = vars(rule.snapshot())
    solver.reset_momentum()
    assert solver.step_rule is rule and vars(rule).keys() == state.keys()
    for key, value in state.items():
        np.testing.assert_array_equal(getattr(rule, key), value)
    assert solver.previous is None and solver.t == 0.0


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_the_steps_do_not_depend_on_the_order_of_the_sums_over_rows(iris, solver):
    # Blocks of 7 rows and one block of 150 add the rows' gradients in other
    # orders: the gradients differ by rounding. The adaptive step divides by
    # gradient differences, which would magnify that as the moves shrink; on
    # its grid both runs take the same steps, and end as close as with a
    # fixed step.
    X, y = iris
    layout = ParameterLayout((4, 8, 3))
    start = layout.initialize(np.random.RandomState(0), np.float64)
    ends = []
    for block_size in (7, 150):
        objective = Objective(
            layout, X, y, np.ones(len(y)), 1e-4, block_size=block_size
        )
        if solver == "gd":
            solver_ = GradientDescent("adaptive")
        else:
            solver_ = NesterovAcceleratedGradient("adaptive", restart="gradient")
        theta, steps = start.copy(), []
        for _ in range(60):
            solver_.step(theta, objective)
            steps.append(solver_.learning_rate)
        ends.append((theta, steps))
    (theta_7, steps_7), (theta_150, steps_150) = ends
    assert steps_7 == steps_150
    np.testing.assert_allclose(theta_7, theta_150, rtol=0, atol=1e-12)
    assert not np.array_equal(theta_7, theta_150)  # the sums did differ


class Rising(Quadratic):
    """A quadratic's gradient with a loss that rises at every evaluation,
    wherever the point: no retake is ever within the safeguard's factor."""

    calls = 0

    def value_and_gradient(self, x):
        self.calls += 1
        return float(self.calls), self.A @ x - self.b


def test_a_safeguard_that_finds_no_step_within_raises():
    # The search ends: after 64 halvings it says so, as backtracking does,
    # rather than taking a step it rejected.
    objective = Rising(np.diag([1.0, 4.0]), [1.0, 1.0])
    solver = NesterovAcceleratedGradient("adaptive")
    theta = np.array([1.0, -2.0])
    solver.step(theta, objective)
    before = theta.copy()
    with pytest.raises(ValueError, match="found no step"):
        solver.step(theta, objective)
    assert objective.calls == 2 + 64
    # The iterate is the last accepted one, not a rejected trial.
    np.testing.assert_array_equal(theta, before)


def _shifted_poisson_stream(seed):
    """Chunks of 50 rows whose counts jump from a mean of 0.5 in the first
    to 5 after it: NAG's momentum with 'auto' ran away on the new chunks
    (docs/solver_measurements.md, "NAG's safeguard across calls")."""
    rng = np.random.RandomState(seed)
    for call in range(40):
        X = rng.randn(50, 5)
        yield X, rng.poisson((0.5 if call == 0 else 5.0) * np.exp(0.3 * X[:, 0]))


def _stream_regressor(seed, solver="nag"):
    from skmlp import SoftplusMLPRegressor

    return SoftplusMLPRegressor(
        loss="poisson",
        solver=solver,
        momentum=0.9,
        learning_rate_init="auto",
        hidden_layer_sizes=(16,),
        random_state=seed,
    )


@pytest.mark.parametrize(
    "solver, seed", [("nag", 0), ("nag", 1), ("nag", 2), ("gd", 0)]
)
def test_a_call_on_other_rows_keeps_its_loss_within_four_times_the_last_points(
    solver, seed, monkeypatch
):
    # The adaptive step across calls on other rows: that of rows without
    # fingerprints (a Dask cluster's); in memory they are chunks.
    as_rows_without_fingerprints(monkeypatch)
    # The record of a call on other rows is the loss of y_{k-1}, where the
    # rule took its last gradient, on the new rows; a y_k above 4 times it
    # is taken again. Without a record (the factor infinite, as before),
    # NAG's seed 0 diverged and seeds 1 and 2 rose to 277 and 495. GD's
    # safeguard keeps the same record (it did not run away here).
    from skmlp._evaluation.objective import Objective
    from skmlp._math.datafits import PoissonDeviance

    model = _stream_regressor(seed, solver)
    retakes = 0
    for call, (X, y) in enumerate(_shifted_poisson_stream(seed)):
        rule = model._solver.step_rule if call else None
        if call:
            layout = ParameterLayout((5, 16, 1))
            objective = Objective(
                layout, X, y, np.ones(len(y)), model.alpha, datafit=PoissonDeviance()
            )
            record = objective.value(rule.point)
            before = model._solver.n_retakes
        model.partial_fit(X, y)
        if call:
            assert model.loss_curve_[-1] <= 4.0 * record + 1e-10
            retakes += model._solver.n_retakes - before
    assert retakes > 0 or solver == "gd"
    assert max(model.loss_curve_) < 10.0


def test_without_the_record_the_shifted_stream_runs_away(monkeypatch):
    # The adaptive step across calls on other rows: that of rows without
    # fingerprints (a Dask cluster's); in memory they are chunks.
    as_rows_without_fingerprints(monkeypatch)
    # What the test above guards against, shown on the same stream, with
    # the safeguard of each call's end left out: the look-ahead at the end
    # of a call (_Solver.look_ahead) takes back on the call's rows what
    # would run away on the next's, and this stream then keeps the same
    # losses without the record; the record guards the first step on the
    # new rows, as the stream shows without the look-ahead.
    from skmlp import DivergenceError
    from skmlp._solvers import first_order

    monkeypatch.setattr(first_order._Solver, "guards_last_step", False)
    model = _stream_regressor(0)
    for X, y in _shifted_poisson_stream(0):
        model.partial_fit(X, y)
    assert max(model.loss_curve_) < 10.0
    monkeypatch.setattr(first_order, "NEW_OBJECTIVE_RUNAWAY_FACTOR", math.inf)
    model = _stream_regressor(0)
    with pytest.raises(DivergenceError):
        for X, y in _shifted_poisson_stream(0):
            model.partial_fit(X, y)


def test_a_ctrl_c_in_the_final_check_takes_the_look_ahead_once(iris, monkeypatch):
    # NAG without restart on Iris: at 15 steps the next step's safeguard
    # takes the last step again at the end of the fit. A Ctrl-C in the
    # forward pass of the final check keeps the last epoch and checks it
    # again; taken twice, the look-ahead built its point from the retaken
    # state, and the next call went on from another evaluation than
    # fit(max_iter=16)'s.
    from skmlp._evaluation.objective import MeanObjective
    from skmlp._training.loop import TrainingRun

    X, y = iris
    whole = fitted(auto(solver="nag", restart=None, max_iter=15), X, y)
    assert whole._solver.n_retakes > 0
    longer = fitted(auto(solver="nag", restart=None, max_iter=16), X, y)
    monkeypatch.setattr(TrainingRun, "_passes_by_its_bound", lambda self, t: False)
    value, armed = MeanObjective.value, [True]

    def interrupted_once(self, theta):
        if armed.pop() if armed else False:
            raise KeyboardInterrupt
        return value(self, theta)

    monkeypatch.setattr(MeanObjective, "value", interrupted_once)
    clf = auto(solver="nag", restart=None, max_iter=15)
    with pytest.warns(UserWarning, match="Training interrupted"):
        clf.fit(X, y)
    assert not armed
    np.testing.assert_array_equal(clf.coefs_[0], whole.coefs_[0])
    clf.partial_fit(X, y)
    for a, b in zip(clf.coefs_ + clf.intercepts_, longer.coefs_ + longer.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert clf.loss_curve_ == longer.loss_curve_
