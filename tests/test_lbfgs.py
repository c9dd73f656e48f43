"""L-BFGS: the two-loop direction, the Wolfe line search, scipy's minimum,
and the estimator's training loop around it."""

import pickle
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import log_softmax
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skmlp import DivergenceError, SoftplusMLPClassifier
from skmlp._evaluation.objective import Objective
from skmlp._math.layout import ParameterLayout
from skmlp._solvers.lbfgs import LBFGS, two_loop_direction, wolfe_line_search

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


class Recording:
    """An objective that records its ``value_and_gradient`` calls."""

    def __init__(self, objective):
        self.objective = objective
        self.calls = []

    def value(self, theta):
        return self.objective.value(theta)

    def value_and_gradient(self, theta):
        loss, gradient = self.objective.value_and_gradient(theta)
        self.calls.append((theta.copy(), loss, gradient.copy()))
        return loss, gradient


def test_two_loop_direction_is_minus_the_bfgs_inverse_hessian_times_g():
    rng = np.random.RandomState(0)
    n = 6
    s_pairs, y_pairs = [], []
    for _ in range(4):
        s = rng.standard_normal(n)
        M = rng.standard_normal((n, n))
        y = (M @ M.T + n * np.eye(n)) @ s  # s.y > 0
        s_pairs.append(s)
        y_pairs.append(y)
    g = rng.standard_normal(n)
    # Nocedal and Wright (7.19): H_0 = gamma I, then one BFGS update of the
    # inverse Hessian per pair, oldest first.
    s, y = s_pairs[-1], y_pairs[-1]
    H = (s @ y) / (y @ y) * np.eye(n)
    for s, y in zip(s_pairs, y_pairs):
        rho = 1 / (y @ s)
        V = np.eye(n) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    np.testing.assert_allclose(
        two_loop_direction(g, s_pairs, y_pairs), -H @ g, rtol=1e-12
    )
    np.testing.assert_array_equal(two_loop_direction(g, [], []), -g)


def test_two_loop_direction_satisfies_the_secant_equation():
    # Every BFGS update makes H y = s hold for its pair, the newest one last.
    rng = np.random.RandomState(1)
    n = 4
    M = rng.standard_normal((n, n))
    A = M @ M.T + np.eye(n)
    s_pairs = [rng.standard_normal(n) for _ in range(n)]
    y_pairs = [A @ s for s in s_pairs]
    direction = two_loop_direction(-y_pairs[-1], s_pairs, y_pairs)
    np.testing.assert_allclose(direction, s_pairs[-1], rtol=1e-10)


def _logistic_objective(iris, alpha=1.0):
    X, y = iris
    layout = ParameterLayout((4, 3))
    return layout, Objective(layout, X, y, np.ones(len(y)), alpha)


def test_lbfgs_reaches_scipys_l_bfgs_b_minimum(iris):
    # No hidden layer and alpha > 0: a strictly convex objective, one minimum.
    layout, objective = _logistic_objective(iris)
    reference = minimize(
        objective.value_and_gradient,
        np.zeros(layout.n_params),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 1000},
    )
    solver = LBFGS()
    theta = np.zeros(layout.n_params)
    for _ in range(200):
        solver.step(theta, objective)
    assert objective.value(theta) == pytest.approx(reference.fun, rel=1e-12)
    np.testing.assert_allclose(theta, reference.x, rtol=0, atol=1e-5)
    # Far fewer evaluations than first-order steps need (GD: thousands).
    assert solver.n_evaluations < 200


def test_every_step_satisfies_the_strong_wolfe_conditions(iris):
    X, y = iris
    layout = ParameterLayout((4, 8, 3))
    objective = Recording(Objective(layout, X, y, np.ones(len(y)), 1e-4))
    solver = LBFGS(memory=5)
    theta = layout.initialize(np.random.RandomState(0), np.float64)
    for _ in range(40):
        x = theta.copy()
        loss, gradient = objective.objective.value_and_gradient(x)
        objective.calls.clear()
        returned = solver.step(theta, objective)
        assert returned == loss
        s = theta - x
        new_loss, new_gradient = objective.objective.value_and_gradient(theta)
        slope = gradient @ s
        assert slope < 0
        assert new_loss <= loss + 1e-4 * slope
        assert abs(new_gradient @ s) <= 0.9 * abs(slope)
        # The gradient of the accepted point is the newest pair's.
        np.testing.assert_allclose(solver.y_pairs[-1], new_gradient - gradient)
        np.testing.assert_allclose(solver.s_pairs[-1], s)
    assert len(solver.s_pairs) == 5


def test_the_line_search_zooms_in_when_the_first_trial_overshoots():
    # f(x) = x^2 from x = 1 along d = -1: a first trial step of 10 overshoots
    # (f = 81); the search comes back to a step with both Wolfe conditions.
    class Parabola:
        def value_and_gradient(self, x):
            return float(x @ x), 2 * x

    x = np.array([1.0])
    (step, value, gradient), n_evaluations = wolfe_line_search(
        Parabola(), x, 1.0, np.array([2.0]), np.array([-1.0]), 10.0
    )
    assert value <= 1.0 - 1e-4 * step * 2.0
    assert abs(gradient[0] * -1.0) <= 0.9 * 2.0
    assert 1 < n_evaluations <= 20


def test_lbfgs_reuses_the_line_searchs_evaluation(iris):
    layout, objective = _logistic_objective(iris)
    counted = Recording(objective)
    solver = LBFGS()
    theta = np.zeros(layout.n_params)
    for _ in range(10):
        solver.step(theta, counted)
    # One evaluation at x_0, then those of the line searches only.
    assert len(counted.calls) == solver.n_evaluations
    assert solver.n_evaluations <= 1 + 2 * 10


def _clf(**params):
    return SoftplusMLPClassifier((6,), solver="lbfgs", random_state=0, **params)


def test_partial_fit_calls_equal_fit_with_lbfgs(iris):
    X, y = iris
    fitted = _clf(max_iter=15, tol=0.0).fit(X, y)
    incremental = _clf(tol=0.0)
    for _ in range(15):
        incremental.partial_fit(X, y, classes=np.unique(y))
    assert incremental.loss_curve_ == fitted.loss_curve_
    for a, b in zip(incremental.coefs_, fitted.coefs_):
        np.testing.assert_array_equal(a, b)
    assert incremental.learning_rate_ == fitted.learning_rate_


@pytest.mark.parametrize("library", ["pickle", "skops"])
def test_a_saved_lbfgs_model_continues_identically(iris, library):
    X, y = iris
    if library == "skops":
        sio = pytest.importorskip("skops.io")

        def round_trip(clf):
            return sio.loads(
                sio.dumps(clf), trusted=["skmlp._mlp.SoftplusMLPClassifier"]
            )
    else:

        def round_trip(clf):
            return pickle.loads(pickle.dumps(clf))

    clf = _clf()
    for _ in range(5):
        clf.partial_fit(X, y, classes=np.unique(y))
    loaded = round_trip(clf)
    assert len(loaded._solver.s_pairs) == 5
    for _ in range(3):
        clf.partial_fit(X, y)
        loaded.partial_fit(X, y)
    for a, b in zip(loaded.coefs_, clf.coefs_):
        np.testing.assert_array_equal(a, b)


def test_lbfgs_trains_the_loss_far_below_nags_in_as_many_epochs(iris):
    X, y = iris
    params = dict(max_iter=50, tol=0.0, n_iter_no_change=50, alpha=0.0)
    lbfgs = _clf(**params).fit(X, y)
    # Against NAG's fixed step of 0.1 (the default before 'auto'): the
    # adaptive step closes much of the gap (0.040 against 0.025 here).
    nag = SoftplusMLPClassifier(
        (6,), random_state=0, learning_rate_init=0.1, **params
    ).fit(X, y)
    assert lbfgs.loss_curve_[0] == nag.loss_curve_[0]  # same start
    # Monotone: every step passes the sufficient decrease.
    assert np.all(np.diff(lbfgs.loss_curve_) <= 0)
    assert lbfgs.loss_ < 0.5 * nag.loss_


# scipy's L-BFGS-B default ftol (factr = 1e7 times the float64 epsilon).
SCIPY_FTOL = 1e7 * np.finfo(np.float64).eps


def _logistic(**params):
    """Softmax regression (no hidden layer) trained by L-BFGS."""
    params = {"alpha": 1.0, "random_state": 0, **params}
    return SoftplusMLPClassifier((), solver="lbfgs", **params)


def _logistic_iterates(iris, alpha, n_steps):
    """The iterates of L-BFGS on the network with no hidden layer, one
    ``partial_fit`` each, with the loss and the largest gradient entry at
    each computed by hand (softmax regression, the user guide's objective):
    ``G_W = X^T (P - Y) / n + alpha W / n``, ``G_b = mean(P - Y)``."""
    X, y = iris
    n, Y = len(y), np.eye(3)[y]
    clf = _logistic(alpha=alpha, tol=0.0)
    iterates, losses, largest = [], [], []
    for _ in range(n_steps):
        clf.partial_fit(X, y, classes=[0, 1, 2])
        W, b = clf.coefs_[0], clf.intercepts_[0]
        log_p = log_softmax(X @ W + b, axis=1)
        losses.append(-np.sum(Y * log_p) / n + alpha / (2 * n) * np.sum(W * W))
        residual = np.exp(log_p) - Y
        gradient = np.concatenate(
            [(X.T @ residual / n + alpha * W / n).ravel(), residual.mean(axis=0)]
        )
        largest.append(np.abs(gradient).max())
        iterates.append(W.copy())
    return iterates, np.array(losses), np.array(largest)


def _first_converged(losses, largest, tol):
    """1-based: the first step after which scipy's L-BFGS-B would stop."""
    previous = np.concatenate([[np.inf], losses[:-1]])
    scale = np.maximum(np.maximum(np.abs(previous), np.abs(losses)), 1.0)
    decrease = (previous - losses) / scale
    return int(np.flatnonzero((largest <= tol) | (decrease <= SCIPY_FTOL))[0]) + 1


def test_lbfgs_stops_at_the_first_iterate_whose_gradient_is_below_tol(iris):
    X, y = iris
    iterates, losses, largest = _logistic_iterates(iris, alpha=1.0, n_steps=30)
    tol = 1e-4
    k = _first_converged(losses, largest, tol)
    # The gradient, not the decrease, decides, at a step well into the run.
    assert largest[k - 1] <= tol < largest[: k - 1].min()
    assert 5 < k < 30
    # The loss improves by less than tol for two epochs in a row before k:
    # the loss rule with n_iter_no_change=1 would have stopped earlier.
    small = np.diff(losses[: k - 1]) > -tol
    assert (small[1:] & small[:-1]).any()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = _logistic(tol=tol, n_iter_no_change=1, max_iter=100).fit(X, y)
    assert clf.n_iter_ == k
    # The kept model is the iterate whose gradient passed the test.
    np.testing.assert_array_equal(clf.coefs_[0], iterates[k - 1])
    # partial_fit goes on from there as the steps of an unstopped fit.
    longer = _logistic(tol=0.0, max_iter=k + 3).fit(X, y)
    for _ in range(3):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.coefs_[0], longer.coefs_[0])
    np.testing.assert_array_equal(clf.coefs_[0], iterates[k + 2])
    assert clf.loss_curve_ == longer.loss_curve_


def test_lbfgs_stops_when_the_relative_decrease_is_below_scipys_ftol(iris):
    # tol=0: only the decrease can stop it, as in scipy with gtol=0.
    iterates, losses, largest = _logistic_iterates(iris, alpha=1.0, n_steps=40)
    k = _first_converged(losses, largest, 0.0)
    assert (largest > 0).all() and 5 < k < 40
    clf = _logistic(tol=0.0, max_iter=100).fit(*iris)
    assert clf.n_iter_ == k
    np.testing.assert_array_equal(clf.coefs_[0], iterates[k - 1])


def test_an_unconverged_lbfgs_fit_warns_as_mlpclassifier(iris):
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        _logistic(max_iter=3).fit(*iris)


def test_lbfgs_with_mini_batches_is_an_error(iris):
    with pytest.raises(ValueError, match="solver='lbfgs' trains on the full batch"):
        _clf(batch_size=32).fit(*iris)
    # A batch at least as large as the data is the full batch.
    _clf(batch_size=500, max_iter=2).fit(*iris)


def test_lbfgs_divergence_raises_and_leaves_the_model(iris):
    X, y = iris
    clf = _clf(max_iter=3).fit(X, y)
    coefs = [c.copy() for c in clf.coefs_]
    with pytest.raises(DivergenceError):
        clf.partial_fit(np.full_like(X, 1e308), y)
    for new, old in zip(clf.coefs_, coefs):
        np.testing.assert_array_equal(new, old)
    assert clf.n_iter_ == 3


def test_an_interrupted_lbfgs_fit_keeps_and_continues_from_its_last_epoch(
    iris, monkeypatch
):
    X, y = iris
    original = Objective.value_and_gradient
    calls = []

    def interrupted(self, theta):
        calls.append(1)
        if len(calls) == 9:
            raise KeyboardInterrupt
        return original(self, theta)

    monkeypatch.setattr(Objective, "value_and_gradient", interrupted)
    with pytest.warns(UserWarning, match="interrupted"):
        clf = _clf(max_iter=20, tol=0.0).fit(X, y)
    monkeypatch.setattr(Objective, "value_and_gradient", original)
    kept = clf.n_iter_
    assert 1 <= kept < 9
    reference = _clf(max_iter=kept, tol=0.0).fit(X, y)
    assert clf.loss_curve_ == reference.loss_curve_
    for _ in range(3):
        clf.partial_fit(X, y)
        reference.partial_fit(X, y)
    for a, b in zip(clf.coefs_, reference.coefs_):
        np.testing.assert_array_equal(a, b)
    assert clf.loss_curve_ == reference.loss_curve_


def test_the_study_command_trains_lbfgs_beside_gd_and_nag(tmp_path):
    from skmlp.__main__ import build_parser, run_study

    args = build_parser().parse_args(
        ["--solvers", "nag", "lbfgs", "--max-iter", "30", "--out", str(tmp_path)]
    )
    results, _ = run_study(args)
    rows = {row["solver"]: row for row in results}
    assert rows["lbfgs"]["model"][-1].solver == "lbfgs"
    # The study's step 0.01 leaves NAG far behind L-BFGS in 30 iterations.
    assert rows["lbfgs"]["model"][-1].loss_ < 0.5 * rows["nag"]["model"][-1].loss_


class Quadratic:
    """``f(x) = x.A x / 2``; ``sign=-1`` returns minus the gradient."""

    def __init__(self, A, sign=1.0):
        self.A, self.sign = np.asarray(A, float), sign

    def value_and_gradient(self, x):
        return float(x @ self.A @ x / 2), self.sign * (self.A @ x)


def test_pairs_that_give_an_uphill_direction_fall_back_to_steepest_descent():
    objective = Quadratic(np.diag([1.0, 4.0]))
    solver = LBFGS()
    # s.y < 0: an inverse Hessian that is not positive definite.
    solver.s_pairs, solver.y_pairs = [np.array([1.0, 0.0])], [np.array([-1.0, 0.0])]
    theta = np.array([1.0, 1.0])
    loss = solver.step(theta, objective)
    assert objective.value_and_gradient(theta)[0] < loss
    assert len(solver.s_pairs) == 1
    assert solver.s_pairs[0] @ solver.y_pairs[0] > 0


def test_a_wrong_gradient_leaves_the_iterate_and_forgets_the_pairs():
    # Along minus a gradient of the wrong sign the loss only rises: the line
    # search finds no decrease and the step changes nothing.
    solver = LBFGS()
    theta = np.array([1.0, 1.0])
    solver.step(theta, Quadratic(np.diag([1.0, 4.0])))
    kept = theta.copy()
    # As between partial_fit calls: the pairs, but no evaluation, carry over.
    solver = solver.snapshot()
    assert solver.s_pairs
    solver.step(theta, Quadratic(np.diag([1.0, 4.0]), sign=-1.0))
    np.testing.assert_array_equal(theta, kept)
    assert solver.s_pairs == [] and solver.y_pairs == []
    # Steepest descent is tried next; where it fails too, a further step
    # would repeat it exactly, so the solver reports that it is done.
    assert not solver.converged
    solver.step(theta, Quadratic(np.diag([1.0, 4.0]), sign=-1.0))
    np.testing.assert_array_equal(theta, kept)
    assert solver.converged


def _snapshot(estimator):
    """Every attribute, bit for bit (pickle compares arrays by their bytes)."""
    return pickle.dumps(estimator.__dict__)


@pytest.mark.parametrize(
    "params, scale, dtype",
    [
        ({"alpha": 1e300}, 1.0, np.float64),
        ({"alpha": 1e160}, 1.0, np.float64),
        ({}, 1e200, np.float64),
        ({"early_stopping": True}, 1e200, np.float64),
        ({"alpha": 1e38}, 1.0, np.float32),
        ({}, 1e20, np.float32),
    ],
)
def test_a_gradient_too_large_for_its_squared_norm_is_a_divergence(
    iris, params, scale, dtype
):
    # ||g||^2 overflows: the first trial step 1 / ||g|| was 0, and the line
    # search divided by the width of a bracket of one point.
    X, y = iris
    clf = _clf(max_iter=3).fit(X, y)
    before = _snapshot(clf)
    clf.set_params(**params)
    with pytest.raises(DivergenceError, match="diverged.*too large.*alpha") as error:
        clf.fit((X * scale).astype(dtype), y)
    assert "StandardScaler" in str(error.value)
    clf.set_params(alpha=1e-4, early_stopping=False)
    assert _snapshot(clf) == before


def test_a_huge_alpha_on_a_fitted_model_is_a_divergence_in_partial_fit(iris):
    # With pairs from the earlier epochs, the quasi-Newton direction is
    # tried first; its slope overflows too, and steepest descent's.
    X, y = iris
    clf = _clf(max_iter=5, tol=0.0).fit(X, y)
    assert clf._solver.s_pairs
    clf.alpha = 1e300
    before = _snapshot(clf)
    with pytest.raises(DivergenceError, match="too large for L-BFGS"):
        clf.partial_fit(X, y)
    assert _snapshot(clf) == before


class _Overflowing:
    """``f(x) = x.x / 2`` whose gradient overflows beyond ``limit``."""

    def __init__(self, limit):
        self.limit = limit

    def value_and_gradient(self, x):
        gradient = x.copy()
        gradient[np.abs(x) > self.limit] = np.inf
        return float(x @ x / 2), gradient


def test_the_line_search_does_not_accept_a_trial_whose_gradient_overflowed():
    # The first trial, x = -0.8, decreases f, but the gradient there is inf:
    # it counts as too far, and the search comes back inside |x| <= 0.5.
    x = np.array([1.0])
    with np.errstate(invalid="ignore"):
        (step, value, gradient), _ = wolfe_line_search(
            _Overflowing(0.5), x, 0.5, x.copy(), np.array([-1.0]), 1.8
        )
    assert np.isfinite(gradient).all()
    assert value <= 0.5 - 1e-4 * step
    assert abs(gradient[0]) <= 0.9


class _Scripted:
    """A loss of 1e160 at the origin with gradient ``(1e153, 0)``, and of 0
    elsewhere with gradient ``(0, 1.5e154)``: the step from the origin along
    minus the gradient meets both Wolfe conditions at the first trial, and
    its pair has ``s.y = 1e153`` but ``y.y = 2.3e308``, past float64."""

    def value_and_gradient(self, x):
        if not x.any():
            return 1e160, np.array([1e153, 0.0])
        return 0.0, np.array([0.0, 1.5e154])


def test_a_pair_whose_dot_products_overflow_is_not_stored():
    solver = LBFGS()
    theta = np.zeros(2)
    with np.errstate(over="ignore"):
        solver.step(theta, _Scripted())
    np.testing.assert_allclose(theta, [-1.0, 0.0])
    # Stored, it would make gamma = s.y / y.y zero: a direction of zero.
    assert solver.s_pairs == [] and solver.y_pairs == []


def _orthogonal_step():
    """One L-BFGS step on ``|x|^2 / 2`` from ``(1e-5, 1)`` with pairs whose
    inverse Hessian is ``diag(1, 1e-12)``: the direction ``-(1e-5, 1e-12)``
    has a cosine of 1e-5 with ``-grad``, and the exact line minimum along it
    lowers the loss 0.5 by 5e-11, a relative decrease below scipy's FTOL."""
    solver = LBFGS()
    solver.s_pairs = [np.array([1.0, 0.0]), np.array([0.0, 1.0])]
    solver.y_pairs = [np.array([1.0, 0.0]), np.array([0.0, 1e12])]
    theta = np.array([1e-5, 1.0])
    objective = Quadratic(np.eye(2))
    loss = solver.step(theta, objective)
    decrease = (loss - objective.value_and_gradient(theta)[0]) / loss
    assert 0.0 < decrease < 2.2e-9
    return solver, theta, objective


def test_a_tiny_decrease_along_a_direction_orthogonal_to_the_gradient_is_no_stop():
    # Targets of 1e10 gave such pairs: the fit stopped after 2 iterations at
    # an R^2 of 0.2, with no warning. The pairs are forgotten instead, and
    # steepest descent, which decides, then makes all the progress.
    solver, theta, objective = _orthogonal_step()
    assert not solver.converged
    assert solver.s_pairs == [] and solver.y_pairs == []
    loss = solver.step(theta, objective)
    assert objective.value_and_gradient(theta)[0] < 1e-6 * loss
    assert not solver.converged


def test_the_same_decrease_along_a_sound_direction_stops(monkeypatch):
    # scipy's test, as before, wherever the direction's cosine is above
    # ANGLE_TOL: here with ANGLE_TOL set below the step's 1e-5.
    from skmlp._solvers import lbfgs

    monkeypatch.setattr(lbfgs, "ANGLE_TOL", 1e-6)
    solver, _, _ = _orthogonal_step()
    assert solver.converged


def test_lbfgs_trains_a_regressor_on_targets_of_scale_1e10():
    from skmlp import SoftplusMLPRegressor

    rng = np.random.RandomState(0)
    X = rng.randn(300, 4)
    for y in (X[:, 0] ** 2, np.c_[X @ [1.0, 2.0, -1.0, 0.5], X[:, 0] - X[:, 2]]):
        small = SoftplusMLPRegressor(solver="lbfgs", random_state=0).fit(X, y)
        large = SoftplusMLPRegressor(solver="lbfgs", random_state=0).fit(X, y * 1e10)
        assert large.n_iter_ > 2
        assert large.score(X, y * 1e10) > 0.99
        assert small.score(X, y) > 0.99


def test_lbfgs_converging_at_the_chance_level_warns_with_the_advice_on_targets():
    # With 10 hidden units the curvature of the loss of targets of 1e10
    # along the steepest descent is so high that the first step decreased
    # the loss by 1e-11 of itself: scipy's test stopped the fit at R^2 =
    # 1e-11, and returned it without a word. It still stops (as scipy, and
    # MLPRegressor, do), but says that the model learned nothing and why.
    from sklearn.exceptions import ConvergenceWarning

    from skmlp import SoftplusMLPRegressor

    rng = np.random.RandomState(0)
    X = rng.randn(300, 4)
    y = X[:, 0] ** 2
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(10,), solver="lbfgs", random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="learned nothing") as record:
        model.fit(X, y * 1e10)
    assert model.score(X, y * 1e10) < 1e-6
    assert "TransformedTargetRegressor" in str(record[0].message)
    # The same fit of targets of unit scale, and constant targets (nothing
    # to learn), converge without a warning (this module ignores
    # ConvergenceWarning, so it is made an error here). The unit-scale fit
    # takes 150 to 210 iterations as the versions and the machine round it
    # (208 here on 2026-12-08 with SciPy 1.17.1, under 200 the day before):
    # it is given room, since what is tested is that it converges at all.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.set_params(max_iter=500)
        assert model.fit(X, y).score(X, y) > 0.99
        model.fit(X, np.full(300, 3.0))


def test_the_chance_level_warning_judges_the_point_kept_and_names_alpha():
    from sklearn.exceptions import ConvergenceWarning

    from skmlp import SoftplusMLPClassifier, SoftplusMLPRegressor

    # Converged after one iteration: the curve's last loss is that of the
    # start, the model's is 3e-16. It warned that nothing was learned.
    rng = np.random.RandomState(0)
    X = rng.randn(200, 1) * 1e4
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(3,), solver="lbfgs", random_state=0)
    with warnings.catch_warnings():
        # An error here: this module ignores ConvergenceWarning.
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, (X[:, 0] > 0).astype(int))
    assert clf.score(X, X[:, 0] > 0) == 1.0
    # A penalty so strong that the mean is the optimum: the warning says so.
    X = rng.randn(200, 2)
    y = 3 * X[:, 0] + rng.randn(200)
    reg = SoftplusMLPRegressor(
        hidden_layer_sizes=(4,), solver="lbfgs", alpha=1e4, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="alpha is so strong") as record:
        reg.fit(X, y)
    assert "lower alpha" in str(record[0].message)


def test_the_chance_level_warning_names_the_test_of_lbfgs_that_stopped_it():
    from skmlp import SoftplusMLPRegressor

    rng = np.random.RandomState(0)
    X = rng.randn(300, 4)
    y = (X[:, 0] + np.sin(X[:, 1]) + 0.1 * rng.randn(300)) * 1e-3
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(10,), solver="lbfgs", random_state=0
    )
    # Targets of 1e-3: the gradient test, in the loss's units, stopped the
    # fit at a training R^2 of -12. The warning said that the decrease was
    # small beside the loss (it was 1%), spoke of "targets of a large
    # scale", and advised solver='nag' (which stops by tol too).
    with pytest.warns(ConvergenceWarning, match="learned nothing") as record:
        model.fit(X, y)
    (message,) = [str(w.message) for w in record]
    assert model.score(X, y) < 0
    assert "gradient's largest entry fell to tol=0.0001" in message
    assert "below tol: scale them, or lower tol" in message
    assert "large scale" not in message and "solver='nag'" not in message
    # At tol=0 the decrease test stops the same fit later. Where it stops
    # depends on the rounding of NumPy's and BLAS's versions at this scale
    # (a training R^2 of 0.21 with NumPy 2.4, -0.67 with NumPy 1.23). The
    # penalty puts the objective above the mean's loss either way; the
    # warning is given exactly when the datafit's loss, without the penalty,
    # is no lower than the mean's. (This module ignores ConvergenceWarning:
    # the record is what is asserted.)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model.set_params(tol=0.0).fit(X, y)
    assert model.loss_ > np.var(y) / 2
    datafit_loss = np.mean((model.predict(X) - y) ** 2) / 2
    warned = any("learned nothing" in str(w.message) for w in record)
    assert warned == (datafit_loss >= np.var(y) / 2)
    assert model.n_iter_ > 10
    # Inputs that predict nothing: the decrease test stops at the mean,
    # absolute below a loss of 1 (2.2e-9 is 0.0032 of the mean's loss).
    zeros = np.zeros_like(X)
    with pytest.warns(ConvergenceWarning, match="learned nothing") as record:
        model.fit(zeros, y)
    (message,) = [str(w.message) for w in record]
    assert "a step decreased the loss by less than 2.22e-09" in message
    assert "absolute amount, here 0.0032 of the loss" in message
    assert message.endswith("or scale the targets.")
    # At unit scale the same stop is no matter of the targets' scale.
    with pytest.warns(ConvergenceWarning, match="learned nothing") as record:
        model.fit(zeros, y * 1e3)
    (message,) = [str(w.message) for w in record]
    assert "a step decreased the loss" in message
    assert "scale them" not in message and "large scale" not in message
    assert message.endswith("or try solver='nag'.")


def test_the_first_step_of_float32_lbfgs_on_targets_of_1e7_is_seen():
    # The loss is about 1e14, whose float32 rounding (1e7) was above the
    # decrease of scipy's first trial 1 / ||g||: no trial passed, and the
    # fit "converged" after one iteration at the intercept-only model (an
    # R^2 of 0), with no warning. float64 trained from the same start.
    from skmlp import SoftplusMLPRegressor

    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    y = (rng.poisson(np.exp(0.5 * X[:, 0])) + 1.0) * 1e7
    scores = {}
    for dtype in (np.float32, np.float64):
        model = SoftplusMLPRegressor(
            hidden_layer_sizes=(4,), solver="lbfgs", max_iter=30, random_state=0
        ).fit(X.astype(dtype), y)
        assert model.n_iter_ == 30
        scores[dtype] = model.score(X.astype(dtype), y)
    assert scores[np.float32] > 0.1
    assert scores[np.float32] == pytest.approx(scores[np.float64], abs=0.05)
