"""GD and NAG step by step against independent references; restart; backtracking."""

import math
import pickle

import numpy as np
import pytest
from fitting import (
    LR,
    as_rows_without_fingerprints,
    assert_same_model,
    classifier,
    fit_quietly,
    full_batch_objective,
    layout_and_theta,
    many_classes,
    scaled_iris,
)
from numpy.testing import assert_allclose
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from test_persistence import DATA, assert_as_saved, saved_models

from skmlp import DivergenceError, SoftplusMLPClassifier
from skmlp._evaluation.objective import Objective
from skmlp._math.layout import ParameterLayout
from skmlp._solvers import first_order
from skmlp._solvers.first_order import GradientDescent, NesterovAcceleratedGradient
from skmlp._solvers.step_size import Backtracking

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


class Quadratic:
    """``f(x) = x.A x / 2 - b.x``, recording where it is evaluated."""

    def __init__(self, A, b):
        self.A, self.b = np.asarray(A, float), np.asarray(b, float)
        self.gradient_points = []
        self.value_points = []

    def value(self, x):
        self.value_points.append(x.copy())
        return float(x @ self.A @ x / 2 - self.b @ x)

    def value_and_gradient(self, x):
        self.gradient_points.append(x.copy())
        return float(x @ self.A @ x / 2 - self.b @ x), self.A @ x - self.b


def reference_loss_and_gradient(coefs, intercepts, X, y, weights, alpha):
    """The objective and its gradient written out layer by layer."""
    activations, pre_activations = [X], []
    for W, b in zip(coefs, intercepts):
        z = activations[-1] @ W + b
        pre_activations.append(z)
        activations.append(np.logaddexp(0.0, z))
    logits = pre_activations[-1]
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    onehot = np.eye(proba.shape[1])[y]
    total = weights.sum()
    loss = -(weights * np.log((proba * onehot).sum(axis=1))).sum() / total
    loss += alpha / (2 * total) * sum((W**2).sum() for W in coefs)
    delta = (proba - onehot) * weights[:, None] / total  # e2, averaged
    grad_coefs, grad_intercepts = [], []
    for layer in range(len(coefs) - 1, -1, -1):
        grad_coefs.insert(
            0, activations[layer].T @ delta + alpha / total * coefs[layer]
        )
        grad_intercepts.insert(0, delta.sum(axis=0))
        if layer:
            sigmoid = 1 / (1 + np.exp(-pre_activations[layer - 1]))
            delta = sigmoid * (delta @ coefs[layer].T)
    return loss, grad_coefs, grad_intercepts


@pytest.mark.parametrize("hidden_layer_sizes", [(), (5,), (4, 3)])
def test_gd_step_is_theta_minus_lr_times_the_gradient(iris, hidden_layer_sizes):
    X, y = iris
    weights = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    clf = SoftplusMLPClassifier(
        hidden_layer_sizes, solver="gd", alpha=0.3, learning_rate_init=0.7
    )
    clf.set_params(random_state=0).partial_fit(X, y, np.unique(y), weights)
    before_coefs = [c.copy() for c in clf.coefs_]
    before_intercepts = [b.copy() for b in clf.intercepts_]
    clf.partial_fit(X, y, sample_weight=weights)

    loss, grad_coefs, grad_intercepts = reference_loss_and_gradient(
        before_coefs, before_intercepts, X, y, weights, 0.3
    )
    assert clf.loss_curve_[-1] == pytest.approx(loss, rel=1e-13)
    for new, old, grad in zip(clf.coefs_, before_coefs, grad_coefs):
        np.testing.assert_allclose(new, old - 0.7 * grad, rtol=1e-12, atol=1e-14)
    for new, old, grad in zip(clf.intercepts_, before_intercepts, grad_intercepts):
        np.testing.assert_allclose(new, old - 0.7 * grad, rtol=1e-12, atol=1e-14)


def fista_reference(gradient, x0, lr, n_steps, restart=None, value=None):
    """FISTA (O'Donoghue and Candes' restarts) in the textbook's variables.

    Returns the look-ahead points y_k and the iterates x_k, k = 1..n_steps.
    """
    x_prev, y, t = x0, x0, 1.0
    lookaheads, iterates = [], []
    for _ in range(n_steps):
        lookaheads.append(y)
        g = gradient(y)
        x = y - lr * g
        iterates.append(x)
        if (restart == "gradient" and g @ (x - x_prev) > 0) or (
            restart == "function" and value(x) > value(x_prev)
        ):
            t = 1.0
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        y = x + (t - 1) / t_next * (x - x_prev)
        t = t_next
        x_prev = x
    return np.array(lookaheads), np.array(iterates)


@pytest.mark.parametrize("restart", [None, "function", "gradient"])
def test_nag_follows_fista_with_the_gradient_at_the_lookahead(restart):
    # Ill-conditioned, so that both restart tests fire (near step 125).
    A = np.diag([1.0, 0.05, 0.001])
    b = np.array([1.0, -2.0, 0.5])
    objective = Quadratic(A, b)
    x0 = np.array([3.0, 1.0, -2.0])
    lookaheads, iterates = fista_reference(
        lambda x: A @ x - b,
        x0,
        0.9,
        200,
        restart,
        lambda x: x @ A @ x / 2 - b @ x,
    )
    solver = NesterovAcceleratedGradient(0.9, restart)
    theta = x0.copy()
    for k in range(200):
        loss = solver.step(theta, objective)
        np.testing.assert_allclose(objective.gradient_points[k], lookaheads[k])
        np.testing.assert_allclose(theta, iterates[k], rtol=1e-12, atol=1e-14)
        assert loss == pytest.approx(objective.value(lookaheads[k]), rel=1e-14)
    assert (solver.n_restarts > 0) == (restart is not None)


def test_nag_on_a_scalar_quadratic_with_lr_one_over_L_stays_at_zero():
    L = 3.0
    objective = Quadratic([[L]], [0.0])
    solver = NesterovAcceleratedGradient(1 / L)
    theta = np.array([5.0])
    for _ in range(20):
        solver.step(theta, objective)
        assert theta[0] == 0.0


@pytest.mark.parametrize("restart", ["function", "gradient"])
def test_a_restart_drops_the_momentum(restart):
    objective = Quadratic(np.diag([1.0, 0.001]), [1.0, 0.5])
    solver = NesterovAcceleratedGradient(0.9, restart)
    theta = np.array([3.0, -2.0])
    while solver.n_restarts == 0:
        solver.step(theta, objective)
    assert solver.t == 1.0
    restarted_at = theta.copy()
    solver.step(theta, objective)
    # y_{k+1} = x_k: the next gradient is taken at the iterate itself.
    np.testing.assert_array_equal(objective.gradient_points[-1], restarted_at)
    assert solver.t == pytest.approx((1 + math.sqrt(5)) / 2)


def test_backtracking_finds_the_largest_power_of_two_below_one_over_L():
    # On L x^2 / 2, the sufficient decrease holds exactly for steps <= 1 / L.
    for L, expected in [(3.0, 0.25), (0.01, 64.0), (1.0, 1.0)]:
        for solver in (GradientDescent("auto"), NesterovAcceleratedGradient("auto")):
            theta = np.array([2.0])
            solver.step(theta, Quadratic([[L]], [0.0]))
            assert solver.learning_rate == expected
            np.testing.assert_allclose(theta, 2.0 - expected * L * 2.0)


class LastGradientCall:
    """An objective that remembers its last ``value_and_gradient`` call."""

    def __init__(self, objective):
        self.objective = objective

    def value(self, theta):
        return self.objective.value(theta)

    def value_and_gradient(self, theta):
        loss, gradient = self.objective.value_and_gradient(theta)
        self.last = theta.copy(), loss, gradient.copy()
        return loss, gradient


def _unflatten(layer_sizes, theta):
    coefs, intercepts, offset = [], [], 0
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        coefs.append(theta[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out))
        offset += fan_in * fan_out
        intercepts.append(theta[offset : offset + fan_out])
        offset += fan_out
    return coefs, intercepts


def test_nag_backtracking_follows_its_rules_step_by_step(iris):
    X, y = iris
    layer_sizes = (4, 8, 3)
    weights = np.ones(len(y))
    network = ParameterLayout(layer_sizes)
    objective = LastGradientCall(Objective(network, X, y, weights, 0.0))

    def reference_loss(theta):
        return reference_loss_and_gradient(
            *_unflatten(layer_sizes, theta), X, y, weights, 0.0
        )[0]

    solver = NesterovAcceleratedGradient("auto")
    theta = network.initialize(np.random.RandomState(0), np.float64)
    steps = []
    for k in range(60):
        x_previous = theta.copy()
        t_previous, step_previous = solver.t, solver.learning_rate
        x_before = solver.previous
        loss = solver.step(theta, objective)
        lookahead, lookahead_loss, gradient = objective.last
        step, t = solver.learning_rate, solver.t
        if k == 0:
            assert t == 1.0
            np.testing.assert_array_equal(lookahead, x_previous)
        else:
            # Scheinberg, Goldfarb and Bai: t_k (t_k - 1) = (s_{k-1}/s_k) t_{k-1}^2.
            assert t * (t - 1) == pytest.approx(step_previous / step * t_previous**2)
            momentum = (t_previous - 1) / t * (x_previous - x_before)
            np.testing.assert_allclose(lookahead, x_previous + momentum, rtol=1e-14)
        np.testing.assert_allclose(theta, lookahead - step * gradient, rtol=1e-14)
        assert loss == lookahead_loss == pytest.approx(reference_loss(lookahead))
        # Beck and Teboulle's sufficient decrease, with the reference loss.
        decrease = step / 2 * gradient @ gradient
        assert reference_loss(theta) <= reference_loss(lookahead) - decrease + 1e-13
        steps.append(step)
    assert np.all(np.log2(steps) == np.round(np.log2(steps)))
    # The step followed the curvature both ways.
    assert np.any(np.diff(steps) > 0)
    assert np.any(np.diff(steps) < 0)


def test_gd_backtracking_grows_the_step_after_a_first_trial_success():
    # On L x^2 / 2 the sufficient decrease holds exactly for steps <= 1 / L.
    solver = GradientDescent("auto")
    theta = np.array([1.0])
    counts = []
    for _ in range(5):
        objective = Quadratic([[3.0]], [0.0])
        solver.step(theta, objective)
        counts.append(len(objective.value_points))
    # 1, 0.5 rejected, 0.25 accepted; then 0.25 accepted at once; then 0.5
    # rejected and 0.25 accepted; ...
    assert counts == [3, 1, 2, 1, 2]
    assert solver.learning_rate == 0.25
    # Where the curvature falls, the step doubles at every step.
    flat = Quadratic([[0.03]], [0.0])
    for expected in [0.25, 0.5, 1, 2, 4, 8, 16, 32, 32, 32]:
        solver.step(theta, flat)
        assert solver.learning_rate == expected


def test_monotone_backtracking_grows_only_in_its_first_search():
    # Beck and Teboulle's rule, the one of 'auto' on mini-batches: on
    # L x^2 / 2 (steps <= 1 / L pass) the first search grows the step to
    # the largest power of two that passes, later ones start from the last
    # step and only halve.
    solver = GradientDescent("monotone")
    theta = np.array([1.0])
    flat = Quadratic([[0.03]], [0.0])
    solver.step(theta, flat)
    assert solver.learning_rate == 32.0  # 2**5 <= 1 / 0.03 < 2**6
    steep = Quadratic([[3.0]], [0.0])
    solver.step(theta, steep)
    assert solver.learning_rate == 0.25
    # Where the growing rule doubles at every step (the test above), this
    # one stays at its step, one trial per step.
    for _ in range(5):
        objective = Quadratic([[0.03]], [0.0])
        solver.step(theta, objective)
        assert solver.learning_rate == 0.25
        assert len(objective.value_points) == 1


def test_a_growing_rule_continued_on_mini_batches_grows_no_more():
    # A model saved while its rule still grew, continued by a call whose
    # 'auto' is the monotone rule: the next search starts from the last
    # step, not from twice it.
    running = Backtracking(1.0)
    running.first_search, running.grow = False, True
    rule = first_order.make_step_rule("monotone", 1.0, running)
    assert rule is running and rule.monotone and not rule.grow
    solver = GradientDescent("monotone")
    solver.step_rule = rule
    objective = Quadratic([[0.03]], [0.0])
    solver.step(np.array([1.0]), objective)
    assert solver.learning_rate == 1.0
    assert len(objective.value_points) == 1


def test_auto_on_mini_batches_does_not_let_the_loss_run_away():
    # With a step let grow whenever one batch passes the sufficient
    # decrease, this fit's step reached 2 and its epoch loss rose to 1.65
    # times its best, stopping at training accuracy 0.72: each batch's test
    # sees the gradient step, not the momentum 0.9 that carries it on.
    X, y = make_classification(
        3000, n_features=20, n_informative=10, n_classes=5, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    clf = SoftplusMLPClassifier((32,), batch_size=200, max_iter=30, random_state=0).fit(
        X, y
    )
    losses = np.array(clf.loss_curve_)
    assert np.all(losses[1:] <= 1.1 * np.minimum.accumulate(losses)[:-1])
    assert clf.n_iter_ == 30
    assert clf.score(X, y) > 0.8
    assert clf.learning_rate_ <= 0.125


def test_a_line_search_that_finds_no_decrease_raises():
    class NaNAround(Quadratic):
        """Finite where the gradient is taken, NaN at every trial point."""

        def value(self, x):
            return math.nan

    with pytest.raises(ValueError, match="found no step"):
        GradientDescent("auto").step(np.array([1.0]), NaNAround([[1.0]], [0.0]))


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_backtracking_does_not_mask_divergence(iris, solver):
    X, y = iris
    clf = SoftplusMLPClassifier((4,), solver=solver, learning_rate_init="auto")
    clf.set_params(random_state=0, max_iter=5).fit(X, y)
    state = {k: v for k, v in vars(clf).items() if not k.startswith("_")}
    coefs = [c.copy() for c in clf.coefs_]
    # Features of 1e308 overflow the first layer: the loss itself is not finite.
    with pytest.raises(DivergenceError):
        clf.partial_fit(np.full_like(X, 1e308), y)
    with pytest.raises(DivergenceError):
        SoftplusMLPClassifier(
            solver=solver, learning_rate_init="auto", random_state=0
        ).fit(np.full_like(X, 1e308), y)
    assert {k: v for k, v in vars(clf).items() if not k.startswith("_")}.keys() == (
        state.keys()
    )
    for new, old in zip(clf.coefs_, coefs):
        np.testing.assert_array_equal(new, old)
    assert clf.n_iter_ == 5


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "gd", "learning_rate_init": "auto"},
        {"solver": "nag", "learning_rate_init": "auto"},
        {"solver": "nag", "learning_rate_init": "auto", "restart": "function"},
        {"solver": "nag", "learning_rate_init": 0.5, "restart": "function"},
        {"solver": "nag", "learning_rate_init": 0.5, "restart": "gradient"},
        {"solver": "nag", "learning_rate_init": "auto", "restart": "gradient"},
        {"solver": "nag", "learning_rate_init": 0.5, "momentum": 0.9},
        {"solver": "nag", "learning_rate_init": "auto", "momentum": 0.9},
    ],
)
def test_partial_fit_calls_equal_fit_with_solver_state(iris, params):
    X, y = iris
    clf = SoftplusMLPClassifier((6,), random_state=0, tol=0.0, **params)
    fitted = clf.set_params(max_iter=25).fit(X, y)
    incremental = SoftplusMLPClassifier((6,), random_state=0, tol=0.0, **params)
    for _ in range(25):
        incremental.partial_fit(X, y, classes=np.unique(y))
    np.testing.assert_allclose(
        incremental.loss_curve_, fitted.loss_curve_, rtol=1e-12, atol=0
    )
    for a, b in zip(incremental.coefs_, fitted.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert incremental.learning_rate_ == fitted.learning_rate_


def test_learning_rate_attribute(iris):
    X, y = iris
    fixed = SoftplusMLPClassifier((4,), learning_rate_init=0.3, max_iter=3).fit(X, y)
    assert fixed.learning_rate_ == 0.3
    auto = SoftplusMLPClassifier((4,), learning_rate_init="auto", random_state=0)
    auto.set_params(max_iter=3).fit(X, y)
    assert auto.learning_rate_ == auto._solver.learning_rate > 0
    minibatches = auto.set_params(batch_size=50).fit(X, y)
    assert math.log2(minibatches.learning_rate_).is_integer()


@pytest.mark.parametrize("momentum", ["fista", 0.9])
def test_auto_with_mini_batches_searches_on_each_batch(iris, momentum):
    X, y = iris
    clf = (
        SoftplusMLPClassifier(
            (8,), learning_rate_init="auto", batch_size=30, random_state=0, max_iter=30
        )
        .set_params(momentum=momentum)
        .fit(X, y)
    )
    # Every step is a search's (a power of two), and the loss falls to a
    # small fraction of its start.
    assert math.log2(clf.learning_rate_).is_integer()
    assert clf.loss_curve_[-1] < 0.2 * clf.loss_curve_[0]


@pytest.mark.parametrize(
    "make_solver",
    [
        lambda: GradientDescent("auto"),
        lambda: NesterovAcceleratedGradient(0.1, restart="function"),
        lambda: NesterovAcceleratedGradient("auto", restart="gradient"),
        lambda: NesterovAcceleratedGradient(0.1, restart="gradient", momentum=0.9),
        lambda: GradientDescent("adaptive"),
        lambda: NesterovAcceleratedGradient("adaptive", restart="gradient"),
    ],
)
def test_a_snapshot_goes_on_exactly_as_the_solver_did_and_stays_unchanged(
    make_solver,
):
    # The training loop keeps a snapshot of the last finished epoch to go
    # back to after an interrupt, and the estimator keeps one for partial_fit.
    rng = np.random.RandomState(0)
    A = rng.standard_normal((6, 4))
    objective = Quadratic(A.T @ A + np.eye(4), rng.standard_normal(4))
    solver = make_solver()
    theta = rng.standard_normal(4)
    for _ in range(3):
        solver.step(theta, objective)
    snapshot = solver.snapshot()
    frozen = pickle.loads(pickle.dumps(solver))
    snapshot_theta = theta.copy()
    for _ in range(3):
        solver.step(theta, objective)

    def assert_same_state(kept, frozen):
        for name, value in vars(frozen).items():
            if name == "step_rule":
                # The rule's own state (the adaptive step's arrays).
                assert type(kept.step_rule) is type(value)
                assert_same_state(kept.step_rule, value)
            elif isinstance(value, np.ndarray):
                np.testing.assert_array_equal(getattr(kept, name), value)
            else:
                assert getattr(kept, name) == value, name
        assert vars(kept).keys() == vars(frozen).keys()

    assert_same_state(snapshot, frozen)
    for _ in range(3):
        snapshot.step(snapshot_theta, objective)
    np.testing.assert_array_equal(snapshot_theta, theta)
    assert vars(snapshot).keys() == vars(solver).keys()


@pytest.mark.parametrize(
    "make_solver",
    [
        lambda: GradientDescent("auto"),
        lambda: NesterovAcceleratedGradient("auto", restart="function", momentum=0.5),
        lambda: GradientDescent("adaptive"),
        lambda: NesterovAcceleratedGradient("adaptive", restart="gradient"),
    ],
)
def test_a_solver_state_is_plain_values(make_solver):
    # What a saved model holds (skops files allow no other types).
    solver = make_solver()
    theta = np.ones(3)
    for _ in range(2):
        solver.step(theta, Quadratic(np.eye(3), np.zeros(3)))
    plain = (bool, int, float, str, type(None), np.ndarray)
    # The step rule is saved as its name and its attributes.
    rule = vars(solver).pop("step_rule")
    for name, value in [*vars(solver).items(), *vars(rule).items()]:
        assert isinstance(value, plain), name


def sutskever_reference(gradient, x0, lr, mu, n_steps, restart=False):
    """Nesterov's method in Sutskever et al.'s velocity form.

    ``v_k = mu v_{k-1} - lr grad f(x_{k-1} + mu v_{k-1})``,
    ``x_k = x_{k-1} + v_k``, with ``v_0 = 0``; a gradient restart sets ``v_k
    = 0`` when ``grad . v_k > 0``. Returns the points where the gradients are
    taken and the iterates.
    """
    x, v = x0, np.zeros_like(x0)
    lookaheads, iterates = [], []
    for _ in range(n_steps):
        lookahead = x + mu * v
        g = gradient(lookahead)
        v = mu * v - lr * g
        x = x + v
        if restart and g @ v > 0:
            v = np.zeros_like(v)
        lookaheads.append(lookahead)
        iterates.append(x)
    return np.array(lookaheads), np.array(iterates)


@pytest.mark.parametrize("restart", [None, "gradient"])
@pytest.mark.parametrize("mu", [0.5, 0.9])
def test_nag_with_a_constant_momentum_follows_sutskevers_velocity_form(mu, restart):
    A = np.diag([1.0, 0.05, 0.001])
    b = np.array([1.0, -2.0, 0.5])
    objective = Quadratic(A, b)
    x0 = np.array([3.0, 1.0, -2.0])
    lookaheads, iterates = sutskever_reference(
        lambda x: A @ x - b, x0, 1.2, mu, 150, restart == "gradient"
    )
    solver = NesterovAcceleratedGradient(1.2, restart, momentum=mu)
    theta = x0.copy()
    for k in range(150):
        loss = solver.step(theta, objective)
        np.testing.assert_allclose(
            objective.gradient_points[k], lookaheads[k], rtol=1e-12, atol=1e-13
        )
        np.testing.assert_allclose(theta, iterates[k], rtol=1e-12, atol=1e-13)
        assert loss == pytest.approx(objective.value(lookaheads[k]), rel=1e-13)
    # The momentum of 0.9 overshoots on this problem: the restart fires.
    assert (solver.n_restarts > 0) == (restart is not None and mu == 0.9)


def test_constant_momentum_takes_gradients_where_mlpclassifiers_sgd_has_weights():
    # scikit-learn's Nesterov SGD keeps the look-ahead point as its
    # parameters: they are the points where our solver takes its gradients.
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    rng = np.random.RandomState(0)
    M = rng.standard_normal((8, 5))
    A, b = M.T @ M / 8 + 0.1 * np.eye(5), rng.standard_normal(5)
    objective = Quadratic(A, b)
    theta = rng.standard_normal(5)
    params = [theta.copy()]
    reference = SGDOptimizer(params, learning_rate_init=0.3, momentum=0.9)
    solver = NesterovAcceleratedGradient(0.3, momentum=0.9)
    for _ in range(60):
        solver.step(theta, objective)
        np.testing.assert_allclose(
            objective.gradient_points[-1], params[0], rtol=1e-12, atol=1e-13
        )
        reference.update_params(params, [A @ params[0] - b])


@pytest.mark.parametrize("batch_size, expected", [(None, "fista"), (32, 0.9)])
def test_auto_momentum_is_fista_on_the_full_batch_and_09_on_minibatches(
    iris, batch_size, expected
):
    X, y = iris
    params = dict(hidden_layer_sizes=(6,), batch_size=batch_size, random_state=0)
    params.update(max_iter=8, tol=0.0)
    auto = SoftplusMLPClassifier(**params).fit(X, y)
    explicit = SoftplusMLPClassifier(momentum=expected, **params).fit(X, y)
    other = SoftplusMLPClassifier(
        momentum=0.5 if expected == "fista" else "fista", **params
    ).fit(X, y)
    assert auto.loss_curve_ == explicit.loss_curve_
    assert auto.loss_curve_ != other.loss_curve_


@pytest.mark.parametrize("momentum", [1.0, -0.1, "nesterov"])
def test_momentum_outside_its_range_is_an_invalid_parameter(iris, momentum):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="'momentum' parameter"):
        SoftplusMLPClassifier(momentum=momentum).fit(*iris)


# ----------------------------------------------------------------------------
# GD and NAG through the estimator's partial_fit: one step a call


def test_partial_fit_full_batch_gd_is_one_step_theta_minus_lr_grad():
    X, y = scaled_iris()
    clf = classifier(solver="gd", alpha=0.01)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    for _ in range(3):
        _, theta = layout_and_theta(clf)
        loss, gradient = full_batch_objective(clf, X, y).value_and_gradient(theta)
        clf.partial_fit(X, y)
        _, theta_next = layout_and_theta(clf)
        assert_allclose(theta_next, theta - LR * gradient, rtol=1e-13, atol=1e-15)
        assert clf.loss_ == pytest.approx(loss, rel=1e-13)


def test_partial_fit_full_batch_nag_follows_the_fista_sequence_and_lookahead_loss():
    # x_k = y_k - lr grad L(y_k), y_{k+1} = x_k + (t_k - 1)/t_{k+1} (x_k - x_{k-1}),
    # t_1 = 1, y_1 = x_0: the gradient is taken at the look-ahead point y_k, and
    # loss_curve_ records L(y_k).
    X, y = scaled_iris()
    clf = classifier(solver="nag", alpha=0.01)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    _, x_previous = layout_and_theta(clf)
    clf.partial_fit(X, y)
    _, x = layout_and_theta(clf)
    objective = full_batch_objective(clf, X, y)
    t = (1 + math.sqrt(5)) / 2  # t_2
    for _ in range(5):
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        lookahead = x + (t - 1) / t_next * (x - x_previous)
        loss, gradient = objective.value_and_gradient(lookahead)
        clf.partial_fit(X, y)
        x_previous, x = x, layout_and_theta(clf)[1]
        t = t_next
        assert_allclose(x, lookahead - LR * gradient, rtol=1e-12, atol=1e-14)
        assert clf.loss_ == pytest.approx(loss, rel=1e-12)
    # The momentum is real: the last step differs from a plain GD step, and
    # the recorded loss is not the one at the iterate.
    plain_loss, plain_gradient = objective.value_and_gradient(x_previous)
    assert not np.allclose(x, x_previous - LR * plain_gradient, rtol=1e-6)
    assert clf.loss_ != pytest.approx(plain_loss, rel=1e-9)


def test_nag_second_step_has_no_momentum():
    X, y = scaled_iris()
    gd = classifier(solver="gd")
    nag = classifier(solver="nag")
    for _ in range(2):
        gd.partial_fit(X, y, classes=[0, 1, 2])
        nag.partial_fit(X, y, classes=[0, 1, 2])
    assert_same_model(gd, nag, rtol=1e-14, atol=0)
    gd.partial_fit(X, y)
    nag.partial_fit(X, y)
    assert not np.allclose(gd.coefs_[0], nag.coefs_[0], rtol=1e-8)


SAVED_MODELS = saved_models()


@pytest.mark.parametrize(
    "name", [*SAVED_MODELS.TRAJECTORIES, *SAVED_MODELS.PARTIAL_FITS]
)
def test_the_fits_are_those_of_1ff78b6(name, monkeypatch):
    # Every step rule, restart and momentum, L-BFGS, and partial_fit calls
    # with the learning rate changed between them: the sequence of steps,
    # restarts and rates of the version whose step rules were dicts
    # (tests/data/trajectories.npz, from tests/data/make_saved_models.py),
    # to the rounding of softplus since (assert_as_saved).
    # NAG's safeguard and the monotone backtracking of 'auto' on
    # mini-batches came later and change some of those fits by design:
    # with them off (the step of every search may grow again), everything
    # else is as it was.
    monkeypatch.setattr(first_order, "RUNAWAY_FACTOR", math.inf)
    monkeypatch.setattr(
        Backtracking, "monotone", property(lambda rule: False, lambda rule, _: None)
    )
    # So did the 'auto' of mini-batches for calls on other rows (chunks).
    as_rows_without_fingerprints(monkeypatch)
    arrays = SAVED_MODELS.trajectory(name)
    with np.load(DATA / "trajectories.npz") as saved:
        expected = [saved[f"{name}/{i}"] for i in range(len(arrays))]
        assert f"{name}/{len(arrays)}" not in saved.files
    for array, saved_array in zip(arrays, expected):
        assert_as_saved(array, saved_array)


def _many_classes_fit(seed, restart, **params):
    X, y = many_classes(seed)
    clf = SoftplusMLPClassifier(
        learning_rate_init="auto", solver="nag", restart=restart, random_state=seed
    )
    return fit_quietly(clf.set_params(**params), X, y), X, y


def _largest_rise(loss_curve):
    """The largest ratio of a loss to the lowest one before it."""
    losses = np.asarray(loss_curve)
    return (losses[1:] / np.minimum.accumulate(losses)[:-1]).max()


@pytest.mark.parametrize("restart", [None, "gradient"])
def test_nag_auto_keeps_every_loss_within_a_tenth_of_its_best(restart):
    # The case the safeguard was made for, at the defaults but the step:
    # before it, the loss rose to 4.5 to 8.5 times its best and the fits
    # stopped at a training accuracy of 0.88 to 0.98 (the user guide's
    # "NAG's safeguard").
    for seed in range(6):
        clf, X, y = _many_classes_fit(seed, restart)
        assert _largest_rise(clf.loss_curve_) <= 1.1
        assert clf.score(X, y) > 0.95  # gd: 1.0, nag with momentum 0.9: 0.965
        assert clf._solver.n_retakes > 0


def test_without_the_safeguard_nag_auto_runs_away_on_many_classes(monkeypatch):
    # What the test above guards against is there to be caught.
    monkeypatch.setattr(first_order, "RUNAWAY_FACTOR", math.inf)
    clf, X, y = _many_classes_fit(0, "gradient")
    assert _largest_rise(clf.loss_curve_) > 2.0
    assert clf._solver.n_retakes == 0


def test_partial_fit_calls_go_on_with_the_safeguards_record():
    # N calls on the same rows are fit with max_iter=N to the bit, the
    # steps taken again included: the best loss is kept between calls.
    fitted, X, y = _many_classes_fit(0, None, max_iter=120, tol=0.0)
    assert fitted._solver.n_retakes > 0
    clf = SoftplusMLPClassifier(
        learning_rate_init="auto", solver="nag", restart=None, random_state=0
    )
    for _ in range(120):
        clf.partial_fit(X, y, classes=np.unique(y))
    assert_same_model(clf, fitted, rtol=0, atol=0)
    assert clf._solver.n_retakes == fitted._solver.n_retakes
    assert clf._solver.best_loss == min(fitted.loss_curve_)


def test_the_safeguard_forgets_the_losses_of_other_rows(monkeypatch):
    # A call on other rows compares its losses with theirs only: rows
    # whose labels are shuffled have a loss far above the best of the rows
    # fitted, which is no run-away. Its record starts at the loss of the
    # point of the last gradient on the new rows. (Rows without
    # fingerprints: in memory, other rows are a chunk, which backtracks.)
    as_rows_without_fingerprints(monkeypatch)
    clf, X, y = _many_classes_fit(0, None, max_iter=100, tol=0.0)
    retakes = clf._solver.n_retakes
    shuffled = np.random.RandomState(1).permutation(y)
    codes = np.searchsorted(clf.classes_, shuffled)
    layout, _ = layout_and_theta(clf)
    new_rows = Objective(layout, X, codes, np.ones(len(y)), clf.alpha)
    record = new_rows.value(clf._solver.step_rule.point)
    clf.partial_fit(X, shuffled)
    assert clf.loss_curve_[-1] > 10 * min(clf.loss_curve_[:-1])
    assert clf._solver.n_retakes == retakes
    assert record > 10 * min(clf.loss_curve_[:-1])
    assert clf._solver.best_loss == min(record, clf.loss_curve_[-1])
    # Early stopping keeps the best epoch's weights and starts the
    # momentum afresh from them: the record starts afresh too.
    clf._solver.reset_momentum()
    assert clf._solver.best_loss is None


class _Constant:
    """An objective whose value is ``value`` everywhere."""

    def __init__(self, value):
        self.value_at = value

    def value(self, theta):
        return self.value_at


def test_a_loss_of_zero_accepts_a_step_that_keeps_it_at_zero():
    # Every objective is at least 0: a decrease asked for below 0 is met by
    # reaching 0. A loss that rounded to 0 with a gradient that did not
    # (a one-row batch of margin above 37, alpha=0) failed every trial.
    from skmlp._solvers.step_size import try_step

    theta, gradient = np.zeros(3), np.full(3, 1e-17)
    accepted, new_theta, new_loss = try_step(theta, 0.0, gradient, _Constant(0.0), 1.0)
    assert accepted and new_loss == 0.0
    assert_allclose(new_theta, -gradient)
    # A rise is still refused, and so is a loss that does not reach the
    # decrease asked for when it is above 0.
    assert not try_step(theta, 0.0, gradient, _Constant(1e-30), 1.0)[0]
    assert not try_step(theta, 1.0, np.ones(3), _Constant(0.9), 1.0)[0]
    assert try_step(theta, 1.0, np.ones(3), _Constant(0.0), 1.0)[0]


def test_auto_on_one_row_batches_of_separable_rows_without_penalty_trains():
    # The case: some one-row batches' losses round to 0. It raised
    # NoStepFound (blaming the features' scale) where MLPClassifier trains.
    from sklearn.datasets import make_blobs

    X, y = make_blobs(200, 2, centers=[[-5, 0], [5, 0]], random_state=0)
    X = StandardScaler().fit_transform(X)
    for solver in ("gd", "nag"):
        clf = SoftplusMLPClassifier(
            (8,), solver=solver, alpha=0.0, batch_size=1, random_state=1, max_iter=5
        )
        fit_quietly(clf, X, y)
        assert clf.score(X, y) > 0.95  # gd: 1.0, nag with momentum 0.9: 0.965
