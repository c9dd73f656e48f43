"""The epoch loop: Ctrl-C anywhere, stopping, and its warnings; the loss it
records, mini-batches of no weight, divergence, verbose output, and the memory
a call leaves behind."""

import contextlib
import copy
import gc
import math
import re
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from fitting import (
    LR,
    assert_same_model,
    classifier,
    fit_quietly,
    full_batch_objective,
    layout_and_theta,
    no_stop,
    scaled_iris,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from tracing import LineCounter, count_calls, interrupt_at_call

import skmlp
import skmlp._evaluation.objective
import skmlp._training.loop
from skmlp import DivergenceError, SoftplusMLPClassifier
from skmlp._callbacks import EpochCallbacks
from skmlp._evaluation.objective import Objective
from skmlp._math.datafits import SoftmaxCrossEntropy
from skmlp._math.layout import ParameterLayout
from skmlp._solvers.first_order import GradientDescent
from skmlp._training.loop import Settings, Start, TrainingData, TrainingRun

X_IRIS, Y_IRIS = scaled_iris()
MAX_EPOCHS = 4


def _clf(**params):
    params = {
        "hidden_layer_sizes": (4,),
        "learning_rate_init": 0.1,
        "random_state": 0,
        "tol": 0.0,
        "n_iter_no_change": 100,
        **params,
    }
    return SoftplusMLPClassifier(**params)


def _quiet_fit(clf, X=X_IRIS, y=Y_IRIS):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clf.fit(X, y)


def _the_loops_modules():
    """Every module of the package, in every folder, but
    ``_evaluation/execution.py``: every line that a fit runs is a place where
    a Ctrl-C can land (a list kept by hand missed modules added later).

    ``_evaluation/execution.py`` holds a lock around its BLAS limits, and an
    interrupt raised at a traced line can land where no real signal can: after a
    ``with`` block's last line, before the lock's ``__exit__`` runs, which
    then never releases it, and the next fit waits for it forever. Its
    interrupts are tested where CPython really runs a signal's handler
    (``tracing.SignalPoints``, in tests/test_threads.py).
    """
    package = Path(skmlp.__file__).parent
    excluded = package / "_evaluation" / "execution.py"
    return sorted(path for path in package.rglob("*.py") if path != excluded)


def _assert_same_model(a, b):
    for name in ("coefs_", "intercepts_"):
        for x, y in zip(getattr(a, name), getattr(b, name)):
            assert_array_equal(x, y)
    for name in ("n_iter_", "t_", "loss_curve_", "loss_", "best_loss_"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.validation_scores_ == b.validation_scores_
    assert a.best_validation_score_ == b.best_validation_score_
    assert a.learning_rate_ == b.learning_rate_


class _WantsEveryModel:
    """A callback that asks for the model of every task (as ScoringMonitor
    does), so that the lines that build it run too."""

    def setup(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        assert fitted_estimator is not None

    def teardown(self, estimator, context):
        pass


def _with_callback(clf, callback):
    if callback:
        pytest.importorskip("sklearn.callback", reason="needs scikit-learn >= 1.9")
        clf.set_callbacks(_WantsEveryModel())
    return clf


@pytest.mark.parametrize(
    "params, callback",
    [
        pytest.param(dict(solver="nag", batch_size=50), False, id="nag-minibatches"),
        pytest.param(
            dict(solver="gd", early_stopping=True), False, id="gd-early-stopping"
        ),
        pytest.param(
            dict(solver="nag", learning_rate_init="auto"),
            False,
            id="nag-auto-full-batch",
        ),
        pytest.param(
            dict(solver="nag", batch_size=50), True, id="nag-minibatches-callback"
        ),
    ],
)
def test_a_ctrl_c_on_any_line_leaves_the_model_of_a_finished_epoch(params, callback):
    # Ctrl-C before each line the estimator and its loop run, one fit per
    # line: the estimator is either as it was (no epoch finished) or the
    # model of fit(max_iter=n) for some n, in every attribute, including
    # what the next partial_fit goes on from (solver state, generator).
    # With a callback that takes the model of every epoch and of the fit,
    # the lines that build those for it are interrupted too.
    references = {
        n: _quiet_fit(_clf(max_iter=n, **params)) for n in range(1, MAX_EPOCHS + 1)
    }
    counter = LineCounter(_the_loops_modules())
    with counter():
        _quiet_fit(_with_callback(_clf(max_iter=MAX_EPOCHS, **params), callback))
    outcomes = set()
    for line in range(1, counter.count + 1):
        clf = _with_callback(_clf(max_iter=MAX_EPOCHS, **params), callback)
        before = copy.deepcopy(clf.__dict__)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with LineCounter(_the_loops_modules(), interrupt_at=line)():
                    clf.fit(X_IRIS, Y_IRIS)
                raised = False
            except KeyboardInterrupt:
                raised = True
        if not hasattr(clf, "coefs_"):
            assert raised, line
            assert clf.__dict__.keys() == before.keys(), line
            outcomes.add(0)
            continue
        reference = references[clf.n_iter_]
        _assert_same_model(clf, reference)
        outcomes.add(clf.n_iter_)
        if not raised and clf.n_iter_ < MAX_EPOCHS:
            assert any("interrupted" in str(w.message) for w in caught), line
        if "early_stopping" not in params:
            clf.partial_fit(X_IRIS, Y_IRIS)
            _assert_same_model(
                clf, copy.deepcopy(reference).partial_fit(X_IRIS, Y_IRIS)
            )
    # The interrupts landed before the first epoch, in each epoch and after
    # the last.
    assert outcomes == set(range(MAX_EPOCHS + 1))


def test_a_ctrl_c_on_any_line_of_partial_fit_leaves_the_model_before_or_after():
    # partial_fit is one epoch: the estimator is the model before the call
    # (and the Ctrl-C goes to the user) or after it, and trains on as that
    # model does.
    params = dict(solver="nag", batch_size=50)
    fitted = _quiet_fit(_clf(max_iter=3, **params))
    after = copy.deepcopy(fitted).partial_fit(X_IRIS, Y_IRIS)
    counter = LineCounter(_the_loops_modules())
    with counter():
        copy.deepcopy(fitted).partial_fit(X_IRIS, Y_IRIS)
    outcomes = set()
    for line in range(1, counter.count + 1):
        clf = copy.deepcopy(fitted)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with LineCounter(_the_loops_modules(), interrupt_at=line)():
                    clf.partial_fit(X_IRIS, Y_IRIS)
                raised = False
            except KeyboardInterrupt:
                raised = True
        reference = fitted if clf.n_iter_ == 3 else after
        assert raised or reference is after, line
        _assert_same_model(clf, reference)
        clf.partial_fit(X_IRIS, Y_IRIS)
        _assert_same_model(clf, copy.deepcopy(reference).partial_fit(X_IRIS, Y_IRIS))
        outcomes.add(clf.n_iter_ - 1)
    assert outcomes == {3, 4}


@pytest.mark.parametrize("batch_size, n_steps", [(None, 5), (50, 15)])
def test_a_call_takes_no_evaluation_beyond_its_steps_when_a_bound_proves_its_end(
    batch_size, n_steps
):
    # GD with a fixed step takes one gradient per step. The point that ends
    # the call is checked by a bound on its loss (far below the divergence
    # threshold on Iris), once per call, not per epoch: no forward pass.
    # Counted on the objective (its penalty has methods of the same names).
    counts = {"value": 0, "value_and_gradient": 0, "loss_bound": 0}
    clf = _clf(solver="gd", batch_size=batch_size, max_iter=5)
    with count_calls(counts, skmlp._evaluation.objective.__file__):
        _quiet_fit(clf)
    assert counts == {"value": 0, "value_and_gradient": n_steps, "loss_bound": 1}
    counts = dict.fromkeys(counts, 0)
    with count_calls(counts, skmlp._evaluation.objective.__file__):
        clf.partial_fit(X_IRIS, Y_IRIS)
    assert counts == {"value": 0, "value_and_gradient": n_steps // 5, "loss_bound": 1}


def test_the_point_that_ends_a_call_is_evaluated_when_its_bound_proves_nothing():
    # A row of weight 0 ten thousand times as far out as the others leaves
    # the loss as it is but widens the features' box, and with it the bound
    # on the loss, beyond half the threshold: the loss of the last point is
    # then computed, by one forward pass.
    X = np.vstack([X_IRIS, 1e4 * X_IRIS[:1]])
    y = np.append(Y_IRIS, Y_IRIS[0])
    sample_weight = np.append(np.ones(len(Y_IRIS)), 0.0)
    counts = {"value": 0, "value_and_gradient": 0, "loss_bound": 0}
    clf = _clf(solver="gd", max_iter=3)
    with count_calls(counts, skmlp._evaluation.objective.__file__):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y, sample_weight=sample_weight)
    assert counts == {"value": 1, "value_and_gradient": 3, "loss_bound": 1}
    reference = _quiet_fit(_clf(solver="gd", max_iter=3))
    # To rounding: a sum over 151 rows is split into other SIMD lanes than
    # one over 150 (NumPy 1.23 on AVX-512 differs in the last place).
    assert_allclose(clf.loss_curve_, reference.loss_curve_, rtol=1e-14)


def test_n_iter_no_change_inf_trains_to_max_iter():
    # scikit-learn's test_n_iter_no_change_inf: with a tolerance no epoch can
    # meet, n_iter_no_change=np.inf never stops training; 10 stops it after
    # the 11 epochs that follow the first.
    X, y = load_digits(n_class=2, return_X_y=True)
    X, y = X[:100] / 16, y[:100]
    params = dict(hidden_layer_sizes=(8,), tol=1e9, max_iter=40, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(40\)"):
        clf = SoftplusMLPClassifier(n_iter_no_change=np.inf, **params).fit(X, y)
    assert clf.n_iter_ == 40
    stopped = SoftplusMLPClassifier(n_iter_no_change=10, **params).fit(X, y)
    assert stopped.n_iter_ == 12


@pytest.mark.parametrize(
    "batch_size, prefix", [(None, "Maximum"), (50, "Stochastic Optimizer: Maximum")]
)
def test_the_convergence_warning_calls_only_mini_batches_stochastic(batch_size, prefix):
    with pytest.warns(ConvergenceWarning) as record:
        _clf(max_iter=2, batch_size=batch_size).fit(X_IRIS, Y_IRIS)
    (warning,) = record
    assert str(warning.message) == (
        f"{prefix} iterations (2) reached and the optimization hasn't converged yet."
    )


def test_the_convergence_warnings_of_a_grid_search_point_at_the_users_line():
    # GridSearchCV calls fit through joblib, even with n_jobs=1.
    search = GridSearchCV(_clf(max_iter=2), {"alpha": [1e-4, 1e-3]}, cv=2)
    with pytest.warns(ConvergenceWarning) as record:
        search.fit(X_IRIS, Y_IRIS)
    assert len(record) == 5  # 2 x 2 folds and the refit
    assert {Path(w.filename) for w in record} == {Path(__file__)}


class Quadratic:
    """``L(theta) = 1/2 ||theta - center||^2``, through the objective protocol
    the loop and the solvers use: a stand-in for the network, so that what
    the loop does can be computed by hand. Its datafit gives the loop the
    chance level of the divergence rule."""

    datafit = SoftmaxCrossEntropy()

    def __init__(self, center):
        self.center = center
        self.weight_sum = 1.0

    def value(self, theta):
        return 0.5 * float(np.sum((theta - self.center) ** 2))

    def value_and_gradient(self, theta):
        return self.value(theta), theta - self.center

    def set_rows(self, X, y, sample_weight):
        self.weight_sum = float(sample_weight.sum())


def _quadratic_run(theta, learning_rate, max_epochs, **settings):
    layout = ParameterLayout((2, 3))
    rows = (np.zeros((4, 2)), np.zeros(4, dtype=int), np.ones(4))
    settings = Settings(
        **{
            "solver": "gd",
            "learning_rate_init": learning_rate,
            "restart": None,
            "momentum": "auto",
            "alpha": 0.0,
            "tol": 0.0,
            "batch_size": None,
            "max_epochs": max_epochs,
            "warn_unconverged": False,
            "shuffle": False,
            "n_iter_no_change": max_epochs,
            "verbose": False,
            "early_stopping": False,
            "validation_fraction": 0.1,
            **settings,
        }
    )
    objective = Quadratic(np.arange(layout.n_params, dtype=float))
    callbacks = EpochCallbacks(object(), *rows, max_epochs=max_epochs)
    data = TrainingData(objective, 4, rows)
    start = Start(layout, theta, np.random.RandomState(0))
    return TrainingRun(settings, start, data, callbacks), objective


def test_the_run_makes_the_solver_and_the_history_of_its_settings_and_start():
    # The run is built from plain values: GD at the settings' rate, a new
    # history without a start's, and one that goes on from a start's.
    theta = np.zeros(ParameterLayout((2, 3)).n_params)
    run, _ = _quadratic_run(theta, 0.5, max_epochs=1)
    assert type(run.state.solver) is GradientDescent
    assert run.state.solver.learning_rate == 0.5
    assert run.state.history.n_iter == 0 and run.state.history.loss_curve == []
    run.run()
    result = run.result()
    assert result.history.n_iter == 1
    layout = ParameterLayout((2, 3))
    start = Start(
        layout,
        result.theta.copy(),
        result.rng,
        history=result.history,
        solver=result.solver,
    )
    again = TrainingRun(run.settings, start, run.data, run.callbacks)
    assert again.state.history.loss_curve == result.history.loss_curve
    assert again.state.history.n_new_epochs == 0
    again.run()
    assert again.result().history.n_iter == 2
    assert again.result().history.t == 2 * 4


def test_a_result_is_new_objects_that_the_run_does_not_touch_again():
    theta = np.zeros(ParameterLayout((2, 3)).n_params)
    run, _ = _quadratic_run(theta, 0.5, max_epochs=1)
    run.run()
    first = run.result()
    kept = first.theta.copy()
    assert first.theta is not run.state.theta
    assert first.solver is not run.state.solver
    assert first.rng is not run.state.rng
    run.state.theta += 1.0
    assert_array_equal(first.theta, kept)
    assert_array_equal(run.result().theta, kept)


@pytest.mark.parametrize("bound_over_threshold, evaluated", [(0.49, 0), (0.51, 1)])
def test_the_loop_trusts_a_bound_on_the_last_loss_only_below_half_the_threshold(
    bound_over_threshold, evaluated
):
    # The quadratic's first loss is 0.5 * sum(k**2 for k < 9) = 102, above
    # the chance level: the threshold is 1e4 * 102. A bound below half of it
    # spares the forward pass; one above it does not.
    theta = np.zeros(ParameterLayout((2, 3)).n_params)
    run, objective = _quadratic_run(theta, 0.5, max_epochs=2)
    threshold = 1e4 * objective.value(theta)
    objective.loss_bound = lambda theta: bound_over_threshold * threshold
    counts = {"value": 0, "value_and_gradient": 0}
    with count_calls(counts, __file__):
        run.run()
    # Each of the two steps' value_and_gradient calls value too.
    assert counts == {"value": 2 + evaluated, "value_and_gradient": 2}


@pytest.mark.parametrize("solver", ["gd", "nag"])
@pytest.mark.parametrize("learning_rate_init", [0.1, "auto"])
def test_a_first_loss_that_is_not_finite_is_a_divergence(solver, learning_rate_init):
    # Features of 1e308 overflow the outputs at the first step: its loss,
    # the run's start, is inf, and so would be a threshold taken from it.
    clf = _clf(solver=solver, learning_rate_init=learning_rate_init, max_iter=3)
    with pytest.raises(skmlp.DivergenceError, match="non-finite"):
        clf.fit(np.full_like(X_IRIS, 1e308), Y_IRIS)
    assert not hasattr(clf, "coefs_")


def test_the_loop_raises_a_divergence_from_the_point_that_ends_the_call():
    # At rate 1e5 one step lands 1e5 - 1 times as far from the center: the
    # step's own loss is the start's, 0.5 * sum(k**2 for k < 9) = 102, the
    # end point's about 1e10 times that.
    theta = np.zeros(ParameterLayout((2, 3)).n_params)
    run, _ = _quadratic_run(theta, 1e5, max_epochs=1)
    message = r"the loss reached 1.02e\+12, more than 1e\+04 times 102 "
    with pytest.raises(skmlp.DivergenceError, match=message):
        run.run()


def test_a_ctrl_c_on_any_line_of_a_refit_on_unnamed_columns_leaves_one_model():
    # The commit writes the new model in one step, then removes the column
    # names that the model fitted on a DataFrame had and the new one lacks:
    # a Ctrl-C between the two is caught and the commit done again. Either
    # way the estimator is the old model, names and all, or a new one
    # without them.
    frame = pd.DataFrame(X_IRIS, columns=["a", "b", "c", "d"])
    old = _quiet_fit(_clf(max_iter=3), X=frame)
    references = {n: _quiet_fit(_clf(max_iter=n)) for n in (1, 2)}
    counter = LineCounter(_the_loops_modules())
    with counter():
        _quiet_fit(copy.deepcopy(old).set_params(max_iter=2))
    outcomes = set()
    for line in range(1, counter.count + 1):
        clf = copy.deepcopy(old).set_params(max_iter=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with LineCounter(_the_loops_modules(), interrupt_at=line)():
                    clf.fit(X_IRIS, Y_IRIS)
            except KeyboardInterrupt:
                pass
        if clf.n_iter_ == 3:
            _assert_same_model(clf, old)
            assert_array_equal(clf.feature_names_in_, old.feature_names_in_)
            outcomes.add("old")
        else:
            _assert_same_model(clf, references[clf.n_iter_])
            assert not hasattr(clf, "feature_names_in_"), line
            outcomes.add(clf.n_iter_)
    assert outcomes == {"old", 1, 2}


# ----------------------------------------------------------------------------
# The loss that the loop records, and mini-batches of no weight


def test_gd_loss_curve_is_the_objective_at_each_start_of_epoch_weights():
    X, y = scaled_iris()
    clf = classifier(solver="gd", alpha=0.1)
    expected = []
    clf.partial_fit(X, y, classes=[0, 1, 2])
    for _ in range(5):
        _, theta = layout_and_theta(clf)
        expected.append(full_batch_objective(clf, X, y).value(theta))
        clf.partial_fit(X, y)
    assert_allclose(clf.loss_curve_[1:], expected, rtol=1e-13)
    fitted = fit_quietly(classifier(solver="gd", alpha=0.1, **no_stop(6)), X, y)
    assert_allclose(fitted.loss_curve_, clf.loss_curve_, rtol=1e-13)
    assert fitted.loss_ == fitted.loss_curve_[-1]
    assert fitted.best_loss_ == min(fitted.loss_curve_)
    assert fitted.n_iter_ == len(fitted.loss_curve_) == 6
    assert fitted.t_ == 6 * 150


def test_minibatch_loss_curve_is_the_weighted_mean_of_batch_losses():
    # Unshuffled batches of 64, 64 and 22 rows, one GD step each.
    X, y = scaled_iris()
    w = np.random.RandomState(0).uniform(0.5, 2.0, size=150)
    params = dict(solver="gd", batch_size=64, shuffle=False, alpha=0.1)
    clf = classifier(**params)
    clf.partial_fit(X, y, classes=[0, 1, 2], sample_weight=w)
    network, theta = layout_and_theta(clf)
    epoch_loss = 0.0
    for rows in (slice(0, 64), slice(64, 128), slice(128, 150)):
        objective = Objective(network, X[rows], y[rows], w[rows], 0.1)
        loss, gradient = objective.value_and_gradient(theta)
        theta = theta - LR * gradient
        epoch_loss += loss * w[rows].sum() / w.sum()
    clf.partial_fit(X, y, sample_weight=w)
    assert_allclose(layout_and_theta(clf)[1], theta, rtol=1e-12, atol=1e-14)
    assert clf.loss_ == pytest.approx(epoch_loss, rel=1e-12)
    assert clf.n_iter_ == 2 and clf.t_ == 300


def test_minibatches_whose_weights_are_all_zero_take_no_step():
    X, y = scaled_iris()
    order = np.random.RandomState(0).permutation(len(y))  # classes mixed
    X, y = X[order], y[order]
    weight = np.ones(len(y))
    weight[:50] = 0.0  # the first mini-batch of an unshuffled epoch
    params = dict(batch_size=50, shuffle=False, **no_stop(3))
    weighted = fit_quietly(classifier(**params), X, y, sample_weight=weight)
    # The same steps as on the rows that weigh something.
    removed = fit_quietly(classifier(**params), X[50:], y[50:])
    assert_same_model(weighted, removed)
    assert_allclose(weighted.loss_curve_, removed.loss_curve_, rtol=1e-12)


# ----------------------------------------------------------------------------
# Warnings and verbose output


def test_convergence_warning_when_max_iter_is_reached():
    X, y = scaled_iris()
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        clf = classifier(max_iter=3, tol=0.0).fit(X, y)
    assert clf.n_iter_ == 3


def test_partial_fit_does_not_warn_about_convergence():
    X, y = scaled_iris()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        classifier(max_iter=1).partial_fit(X, y, classes=[0, 1, 2])


def test_warnings_point_at_the_users_call():
    # ConvergenceWarning names the line that called fit, directly or through
    # a scikit-learn Pipeline, not a line of skmlp or scikit-learn.
    X, y = scaled_iris()
    for estimator in (
        classifier(max_iter=2),
        Pipeline([("mlp", classifier(max_iter=2))]),
    ):
        with pytest.warns(ConvergenceWarning) as record:
            estimator.fit(X, y)
        assert {Path(w.filename) for w in record} == {Path(__file__)}


def test_verbose_prints_one_iteration_line_per_epoch(capsys):
    X, y = scaled_iris()
    clf = fit_quietly(classifier(verbose=True, **no_stop(4)), X, y)
    lines = capsys.readouterr().out.splitlines()
    iterations = [
        re.fullmatch(r"Iteration (\d+), loss = (\d+\.\d{8})", line) for line in lines
    ]
    assert all(iterations) and len(iterations) == 4
    assert [int(m.group(1)) for m in iterations] == [1, 2, 3, 4]
    assert_allclose([float(m.group(2)) for m in iterations], clf.loss_curve_, atol=1e-8)


def test_verbose_with_early_stopping_prints_the_validation_score_as_mlpclassifier(
    capsys,
):
    # MLPClassifier prints "Validation score: %f" after each epoch's loss.
    from sklearn.neural_network import MLPClassifier

    X, y = scaled_iris()
    params = dict(early_stopping=True, validation_fraction=0.2, verbose=True)
    clf = fit_quietly(classifier(**params, **no_stop(3)), X, y)
    lines = capsys.readouterr().out.splitlines()
    scores = [f"Validation score: {score:f}" for score in clf.validation_scores_]
    assert lines[1:6:2] == scores
    assert [line.split(",")[0] for line in lines[0:6:2]] == [
        f"Iteration {k}" for k in (1, 2, 3)
    ]
    fit_quietly(MLPClassifier((4,), max_iter=2, **params), X, y)
    peer = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"Validation score: \d\.\d{6}", peer[1])


def test_not_verbose_prints_nothing(capsys):
    X, y = scaled_iris()
    fit_quietly(classifier(**no_stop(3)), X, y)
    assert capsys.readouterr().out == ""


# ----------------------------------------------------------------------------
# Memory: what a call allocates is freed when it returns


@contextlib.contextmanager
def _traced_without_the_garbage_collector():
    """tracemalloc on, the cyclic garbage collector off: memory that only the
    collector would free (a reference cycle) stays allocated, as it does
    between two collections in a user's loop."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()
        if enabled:
            gc.enable()


def _skmlp_garbage():
    """The skmlp objects that only the cyclic collector would free."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return [
            type(item).__qualname__
            for item in gc.garbage
            if type(item).__module__.startswith("skmlp")
        ]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_a_loop_of_partial_fit_calls_holds_the_memory_of_one_call():
    # Each call makes its buffers (a block of 4,000 rows, some 3 MB) and
    # lets them go when it returns: ten calls peak at what one does. Held
    # in a reference cycle, each call's stayed until the garbage collector
    # ran, and the loop's peak grew by a call's buffers per call.
    X, y = make_classification(n_samples=40_000, n_features=20, random_state=0)
    chunks = [slice(start, start + 4_000) for start in range(0, 40_000, 4_000)]
    clf = classifier(hidden_layer_sizes=(32,), momentum=0.9)
    clf.partial_fit(X[chunks[0]], y[chunks[0]], classes=[0, 1])
    with _traced_without_the_garbage_collector():
        start, _ = tracemalloc.get_traced_memory()
        clf.partial_fit(X[chunks[0]], y[chunks[0]])
        _, one_call = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for rows in chunks:
            clf.partial_fit(X[rows], y[rows])
        end, loop = tracemalloc.get_traced_memory()
        garbage = _skmlp_garbage()
    one_call -= start
    assert one_call > 2**20  # the buffers were traced
    assert loop - start <= 1.1 * one_call
    # What stays is the model (and its history), not a call's buffers.
    assert end - start < one_call / 10
    assert garbage == []


@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(batch_size=500),
        dict(learning_rate_init="auto"),
        dict(solver="lbfgs"),
        dict(early_stopping=True),
        dict(restart="function"),
    ],
    ids=["full-batch", "mini-batch", "auto", "lbfgs", "early-stopping", "restart"],
)
@pytest.mark.parametrize("kind", ["int64", "sparse"])
def test_fit_frees_its_copy_of_the_rows_and_its_buffers_when_it_returns(params, kind):
    # int64 rows are copied to float64 for training (3.2 MB here), and
    # sparse rows to CSR of float64; the copy, the objective and its
    # buffers go when fit returns, without the garbage collector.
    X, y = make_classification(n_samples=20_000, n_features=20, random_state=0)
    X = np.round(X * 10).astype(np.int64)
    if kind == "sparse":
        X = sp.coo_matrix(X)
    clf = classifier(hidden_layer_sizes=(16,), **no_stop(3), **params)
    fit_quietly(clf, X, y)
    with _traced_without_the_garbage_collector():
        start, _ = tracemalloc.get_traced_memory()
        fit_quietly(clf, X, y)
        clf.predict(X)
        end, peak = tracemalloc.get_traced_memory()
        garbage = _skmlp_garbage()
    assert peak - start > 20_000 * 20 * 8  # the copy of the rows was traced
    assert end - start < 20_000 * 20 * 8 / 10
    assert garbage == []


# ----------------------------------------------------------------------------
# Divergence


def _assert_identical(a, b, path="self"):
    """Bit-for-bit equality of two estimator states (deep-copied __dict__)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for key in a:
            _assert_identical(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_identical(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        # (assert_array_equal's strict= needs numpy 1.24; the oldest is 1.23.)
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype, path
        assert a.shape == b.shape, path
        assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, np.random.RandomState):
        _assert_identical(list(a.get_state()), list(b.get_state()), path)
    elif hasattr(a, "__dict__") and not isinstance(a, type):
        assert type(a) is type(b), path
        _assert_identical(vars(a), vars(b), path)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), path
    else:
        assert a == b and type(a) is type(b), path


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_of_a_fresh_fit_raises_and_leaves_it_unfitted():
    X, y = scaled_iris()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = classifier(learning_rate_init=1e100, max_iter=50)
    before = copy.deepcopy(clf.__dict__)
    with pytest.raises(ValueError, match="learning_rate_init") as error:
        clf.fit(frame, y)
    assert isinstance(error.value, DivergenceError)
    _assert_identical(clf.__dict__, before)
    with pytest.raises(NotFittedError):
        clf.predict_proba(X)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("solver", ["gd", "nag"])
@pytest.mark.parametrize("batch_size", [None, 50])
def test_diverging_partial_fit_leaves_the_fitted_model_bit_for_bit(solver, batch_size):
    X, y = scaled_iris()
    clf = fit_quietly(
        classifier(solver=solver, batch_size=batch_size, max_iter=5), X, y
    )
    proba = clf.predict_proba(X)
    clf.set_params(learning_rate_init=1e100)
    before = copy.deepcopy(clf.__dict__)
    with pytest.raises(DivergenceError, match="learning_rate_init"):
        clf.partial_fit(X, y)
    _assert_identical(clf.__dict__, before)
    assert clf.n_iter_ == 5
    assert_array_equal(clf.predict_proba(X), proba)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_call_whose_last_step_diverges_raises_and_keeps_the_model():
    # One full-batch step is the whole call: its loss is taken before the
    # step, so only the check of the point that ends the call sees that the
    # step blew the weights up (the penalty alone is then astronomic).
    X, y = scaled_iris()
    clf = fit_quietly(
        classifier(solver="gd", learning_rate_init=0.02, max_iter=3), X, y
    )
    assert clf.loss_ < 1.4  # a sane model, near its start
    proba = clf.predict_proba(X)
    clf.set_params(learning_rate_init=1e10)
    before = copy.deepcopy(clf.__dict__)
    with pytest.raises(DivergenceError, match="the loss reached"):
        clf.partial_fit(X, y)
    _assert_identical(clf.__dict__, before)
    assert_array_equal(clf.predict_proba(X), proba)
    # The same step taken by hand does end far above the divergence rule.
    network, theta = layout_and_theta(clf)
    objective = full_batch_objective(clf, X, y)
    _, gradient = objective.value_and_gradient(theta)
    assert objective.value(theta - 1e10 * gradient) > 1e4 * math.log(3)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_diverging_warm_start_fit_leaves_the_fitted_model_bit_for_bit():
    X, y = scaled_iris()
    clf = fit_quietly(classifier(solver="nag", max_iter=20), X, y)
    proba = clf.predict_proba(X)
    clf.set_params(warm_start=True, learning_rate_init=1e100)
    before = copy.deepcopy(clf.__dict__)
    with pytest.raises(ValueError, match="learning_rate_init"):
        clf.fit(X, y)
    _assert_identical(clf.__dict__, before)
    assert_array_equal(clf.predict_proba(X), proba)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("solver", ["gd", "nag"])
@pytest.mark.parametrize("batch_size", [None, 32])
def test_a_finite_loss_that_blows_up_is_a_divergence(solver, batch_size):
    # Learning rate 30 on Iris: the loss stays finite but climbs past 1e20
    # (full batch) or blows up within the first epoch (batches of 32). It
    # must not end as a silently broken model.
    X, y = scaled_iris()
    clf = fit_quietly(classifier(solver=solver, max_iter=5), X, y)
    proba = clf.predict_proba(X)
    clf.set_params(
        warm_start=True, learning_rate_init=30.0, batch_size=batch_size, max_iter=50
    )
    before = copy.deepcopy(clf.__dict__)
    with pytest.raises(DivergenceError, match="learning_rate_init") as error:
        clf.fit(X, y)
    assert "the loss reached" in str(error.value)
    _assert_identical(clf.__dict__, before)
    assert_array_equal(clf.predict_proba(X), proba)


def test_the_blow_up_threshold_is_relative_to_chance_or_the_first_loss(monkeypatch):
    # NAG at learning rate 3 on Iris overshoots: its loss rises to about 6
    # times its start and comes back down. The rule compares every loss with
    # DIVERGENCE_FACTOR times max(log(3), first loss), here log(3), which is
    # above the first loss: just above the ratio reached, the fit passes;
    # just below it, it raises.
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    monkeypatch.setattr(skmlp._training.loop, "DIVERGENCE_FACTOR", math.inf)
    clf = classifier(hidden_layer_sizes=(16,), solver="nag", learning_rate_init=3.0)
    clf = fit_quietly(clf.set_params(max_iter=60), X, y)
    curve = np.array(clf.loss_curve_)
    ratio = curve.max() / max(math.log(3), curve[0])
    assert curve[0] < math.log(3) and 3 < ratio < 10
    assert curve[-1] < 0.5 * curve[0]
    monkeypatch.setattr(skmlp._training.loop, "DIVERGENCE_FACTOR", 1.001 * ratio)
    fit_quietly(clone(clf), X, y)
    monkeypatch.setattr(skmlp._training.loop, "DIVERGENCE_FACTOR", 0.999 * ratio)
    with pytest.raises(DivergenceError, match="the loss reached"):
        fit_quietly(clone(clf), X, y)


# ----------------------------------------------------------------------------
# Ctrl-C at a chosen gradient


# Full batch: one gradient per epoch, the 5th call starts epoch 5. Batches of
# 50 rows: three per epoch, the 14th call is the middle of epoch 5.
INTERRUPTIONS = [
    pytest.param("gd", None, 5, id="gd-full-batch"),
    pytest.param("nag", None, 5, id="nag-full-batch"),
    pytest.param("gd", 50, 14, id="gd-minibatch"),
    pytest.param("nag", 50, 14, id="nag-minibatch"),
]


def _fit_interrupted(monkeypatch, at_call, **params):
    """fit, with Ctrl-C at the ``at_call``-th gradient the solver asks for."""
    clf = classifier(**params)
    X, y = scaled_iris()
    with pytest.warns(UserWarning, match="interrupted") as record:
        with interrupt_at_call(
            "value_and_gradient", at_call, skmlp._evaluation.objective.__file__
        ):
            returned = clf.fit(X, y)
    # The warning names the line that called fit.
    assert {Path(w.filename) for w in record} == {Path(__file__)}
    assert returned is clf
    return clf


@pytest.mark.parametrize("solver, batch_size, at_call", INTERRUPTIONS)
def test_keyboard_interrupt_in_epoch_5_keeps_the_model_of_epoch_4(
    monkeypatch, solver, batch_size, at_call
):
    X, y = scaled_iris()
    params = dict(solver=solver, batch_size=batch_size)
    reference = fit_quietly(classifier(**params, **no_stop(4)), X, y)
    clf = _fit_interrupted(monkeypatch, at_call, **params, **no_stop(10))
    assert clf.n_iter_ == 4
    assert clf.t_ == 4 * 150
    assert_same_model(clf, reference, rtol=0, atol=0)
    assert clf.loss_curve_ == reference.loss_curve_
    assert clf.loss_ == reference.loss_
    assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))


@pytest.mark.parametrize("solver, batch_size, at_call", INTERRUPTIONS)
def test_training_after_a_keyboard_interrupt_continues_as_after_epoch_4(
    monkeypatch, solver, batch_size, at_call
):
    # The kept model is the whole state of epoch 4 (weights, momentum and the
    # mini-batch RNG), so partial_fit goes on as after fit(max_iter=4).
    X, y = scaled_iris()
    params = dict(solver=solver, batch_size=batch_size)
    reference = fit_quietly(classifier(**params, **no_stop(4)), X, y)
    clf = _fit_interrupted(monkeypatch, at_call, **params, **no_stop(10))
    for _ in range(2):
        clf.partial_fit(X, y)
        reference.partial_fit(X, y)
    assert_same_model(clf, reference, rtol=0, atol=0)
    assert clf.loss_curve_ == reference.loss_curve_


def test_an_interrupt_with_early_stopping_keeps_and_names_the_best_epoch(
    monkeypatch,
):
    # Ctrl-C in epoch 9 of a fit with early stopping keeps what fit with
    # max_iter=8 keeps, the best epoch by the validation score, and the
    # warning says so (it named epoch 8, whose weights were not kept).
    X, y = scaled_iris()
    params = dict(early_stopping=True, validation_fraction=0.3, learning_rate_init=1.0)
    reference = fit_quietly(classifier(**params, **no_stop(8)), X, y)
    best = 1 + int(np.argmax(reference.validation_scores_))
    assert best < 8, "the best epoch is the last: the test shows nothing"
    clf = classifier(**params, **no_stop(20))
    with pytest.warns(UserWarning) as record:
        with interrupt_at_call(
            "value_and_gradient", 9, skmlp._evaluation.objective.__file__
        ):
            clf.fit(X, y)
    (message,) = [str(w.message) for w in record if "interrupted" in str(w.message)]
    assert "of the 8 epochs finished, the model of the best" in message
    assert "last finished epoch" not in message
    assert_same_model(clf, reference, rtol=0, atol=0)


# ----------------------------------------------------------------------
# Streams of chunks: 'auto' on calls of partial_fit on other rows


def _standard_stream():
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(600, 5, n_informative=3, n_classes=3, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("chunk", [1, 5, 20])
@pytest.mark.parametrize("solver", ["nag", "gd"])
def test_a_stream_of_small_chunks_trains_at_the_defaults(chunk, solver):
    # The adaptive step of full batches took each chunk for a data set: on
    # chunks of 1 to 5 rows it grew with each chunk's curvature (12 to 94)
    # until the loss diverged, within 21 to 128 chunks; on chunks of 20 the
    # fits ended at accuracies of 0.31 to 0.83. MLPClassifier's sgd reaches
    # 0.80 on chunks of one row.
    from skmlp._solvers.step_size import Backtracking

    X, y = _standard_stream()
    clf = SoftplusMLPClassifier((8,), solver=solver, random_state=0)
    for _ in range(2):
        for start in range(0, len(y), chunk):
            rows = slice(start, start + chunk)
            clf.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
    assert clf.score(X, y) > 0.85
    assert type(clf._solver.step_rule) is Backtracking
    assert clf._solver.step_rule.monotone
    if solver == "nag":
        assert clf._solver.momentum == 0.9


def test_calls_on_the_same_rows_are_not_a_stream_whatever_alpha():
    # The rows' fingerprint leaves alpha out: a changed alpha on the same
    # rows goes on with the adaptive step (which measures the new objective
    # once), as calls on the same rows go on as fit does.
    from skmlp._solvers.adaptive_step import AdaptiveStep

    X, y = _standard_stream()
    clf = SoftplusMLPClassifier((8,), random_state=0)
    for alpha in (1e-4, 1e-4, 1e-2, 1e-2):
        clf.set_params(alpha=alpha).partial_fit(X, y, classes=[0, 1, 2])
        assert type(clf._solver.step_rule) is AdaptiveStep
    clf.partial_fit(X[:100], y[:100])
    assert type(clf._solver.step_rule) is not AdaptiveStep
    # Once a stream, a stream: a chunk passed again is still a chunk (back
    # to the adaptive step, each next chunk's first search grew the step
    # again, which ratcheted up until the loss diverged).
    clf.partial_fit(X[:100], y[:100])
    assert type(clf._solver.step_rule) is not AdaptiveStep
    # fit starts afresh, and its rows are a full batch.
    clf.set_params(max_iter=5)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    clf.partial_fit(X, y)
    assert type(clf._solver.step_rule) is AdaptiveStep


@pytest.mark.parametrize("calls", [2, 3])
@pytest.mark.parametrize("chunk", [1, 5])
def test_a_stream_that_passes_each_chunk_more_than_once_trains(chunk, calls):
    X, y = _standard_stream()
    clf = SoftplusMLPClassifier((8,), random_state=0)
    for start in range(0, len(y), chunk):
        rows = slice(start, start + chunk)
        for _ in range(calls):
            clf.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
    assert clf.score(X, y) > 0.8


def test_a_solver_switched_to_mid_stream_goes_on_from_the_stream():
    # L-BFGS takes a full batch, which a chunk is: switching to it on a new
    # chunk was refused for mini-batches (though batch_size is None). And a
    # switch away from it keeps knowing the stream.
    from skmlp._solvers.step_size import Backtracking

    X, y = _standard_stream()
    clf = SoftplusMLPClassifier((8,), random_state=0)
    clf.partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    clf.partial_fit(X[100:200], y[100:200])
    clf.set_params(solver="lbfgs").partial_fit(X[200:300], y[200:300])
    clf.set_params(solver="nag").partial_fit(X[300:400], y[300:400])
    assert type(clf._solver.step_rule) is Backtracking
    assert clf._solver.momentum == 0.9


def test_a_regressor_streams_small_chunks_at_the_defaults():
    from skmlp import SoftplusMLPRegressor

    X, _ = _standard_stream()
    y = X @ [1.0, -2.0, 0.5, 0.0, 1.0] + np.sin(X[:, 0])
    reg = SoftplusMLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(2):
        for start in range(0, len(y), 2):
            reg.partial_fit(X[start : start + 2], y[start : start + 2])
    assert reg.score(X, y) > 0.9


def test_a_loop_over_chunks_is_fit_on_mini_batches_at_the_default_tol():
    # The no-improvement rule's momentum restart (a loss carried above its
    # best on the full batch) compared the losses of different chunks, and
    # restarted NAG's momentum where fit on mini-batches does not: the
    # loop and fit(batch_size=20, shuffle=False) differed by 0.1.
    X, y = make_classification(
        n_samples=600, n_features=5, n_informative=3, n_classes=3, random_state=0
    )
    params = dict(hidden_layer_sizes=(7,), random_state=0, learning_rate_init=0.05)
    for restart in (None, "gradient"):
        fitted = SoftplusMLPClassifier(
            max_iter=2, batch_size=20, shuffle=False, restart=restart, **params
        )
        with pytest.warns(ConvergenceWarning):
            fitted.fit(X, y)
        looped = SoftplusMLPClassifier(restart=restart, **params)
        for _ in range(2):
            for start in range(0, 600, 20):
                rows = slice(start, start + 20)
                looped.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        assert looped._solver.n_restarts == fitted._solver.n_restarts
        for a, b in zip(looped.coefs_, fitted.coefs_):
            assert_array_equal(a, b)
