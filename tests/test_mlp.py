"""SoftplusMLPClassifier's API: its parameters, fitted attributes, predictions
and labels, fit and partial_fit, warm_start, sample weights, and its use in
scikit-learn's tools."""

import math
import warnings

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
    small_problem,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skmlp import SoftplusMLPClassifier, SoftplusMLPRegressor
from skmlp._evaluation.objective import Objective

# ----------------------------------------------------------------------------
# partial_fit and fit: the same steps


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_n_partial_fits_equal_fit_with_max_iter_n_full_batch(solver):
    X, y = scaled_iris()
    n = 12
    fitted = fit_quietly(classifier(solver=solver, **no_stop(n)), X, y)
    incremental = classifier(solver=solver, **no_stop(n))
    for _ in range(n):
        incremental.partial_fit(X, y, classes=np.unique(y))
    assert_same_model(fitted, incremental)
    assert_allclose(incremental.loss_curve_, fitted.loss_curve_, rtol=1e-12)
    assert incremental.n_iter_ == fitted.n_iter_ == n
    assert incremental.t_ == fitted.t_ == n * 150


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_n_partial_fits_equal_fit_with_max_iter_n_shuffled_minibatches(solver):
    # The mini-batch order comes from one RNG that runs on across calls.
    X, y = scaled_iris()
    n = 6
    params = dict(solver=solver, batch_size=32, shuffle=True, **no_stop(n))
    fitted = fit_quietly(classifier(**params), X, y)
    incremental = classifier(**params)
    for _ in range(n):
        incremental.partial_fit(X, y, classes=np.unique(y))
    assert_same_model(fitted, incremental)
    assert_allclose(incremental.loss_curve_, fitted.loss_curve_, rtol=1e-12)
    assert incremental.n_iter_ == fitted.n_iter_ == n
    assert incremental.t_ == fitted.t_ == n * 150
    # Shuffling did happen: without it the model is another one.
    unshuffled = fit_quietly(classifier(**{**params, "shuffle": False}), X, y)
    assert not np.allclose(unshuffled.coefs_[0], fitted.coefs_[0])


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="gd"),
        dict(momentum=0.9),
        dict(momentum=0.5, restart=None),
        dict(momentum="fista"),
        dict(momentum=0.9, restart="function"),
        dict(momentum="auto"),
    ],
    ids=[
        "gd",
        "nag-0.9",
        "nag-0.5-no-restart",
        "nag-fista",
        "nag-function-restart",
        "nag-auto",
    ],
)
def test_partial_fit_over_chunks_is_exactly_fit_on_mini_batches_of_the_chunk(params):
    # docs/scaling_out.rst: with a numeric learning_rate_init, looping
    # partial_fit over consecutive chunks is fit(batch_size=chunk,
    # shuffle=False), the last chunk short as the last mini-batch is, and
    # the sample weights cut with the rows. momentum='auto' too: a call on
    # other rows than the last call's is a chunk, whose 'auto' is the 0.9 of
    # mini-batches, and the first call's FISTA momentum has no step before
    # it to carry.
    X, y = small_problem(n_samples=230)
    w = np.random.RandomState(1).uniform(0.5, 2.0, size=len(y))
    chunk, n_passes = 50, 4
    chunked = classifier(**params)
    for _ in range(n_passes):
        for start in range(0, len(y), chunk):
            rows = slice(start, start + chunk)
            chunked.partial_fit(
                X[rows], y[rows], classes=[0, 1, 2], sample_weight=w[rows]
            )
    fitted = fit_quietly(
        classifier(batch_size=chunk, shuffle=False, **no_stop(n_passes), **params),
        X,
        y,
        sample_weight=w,
    )
    for got, expected in zip(
        chunked.coefs_ + chunked.intercepts_, fitted.coefs_ + fitted.intercepts_
    ):
        assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert chunked.n_iter_ == n_passes * 5


@pytest.mark.parametrize(
    "params",
    [dict(learning_rate_init="auto"), dict(momentum=0.9, learning_rate_init="auto")],
)
def test_partial_fit_over_chunks_is_not_a_mini_batch_fit_with_auto_settings(params):
    # The documented exception: the first call cannot tell a chunk from a
    # data set, and takes the adaptive step of full batches (a probe) where
    # fit's first mini-batch backtracks; the calls after it backtrack too.
    X, y = small_problem(n_samples=200)
    chunk = 50
    chunked = classifier(**params)
    for _ in range(4):
        for start in range(0, len(y), chunk):
            rows = slice(start, start + chunk)
            chunked.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
    fitted = fit_quietly(
        classifier(batch_size=chunk, shuffle=False, **no_stop(4), **params), X, y
    )
    assert np.abs(chunked.coefs_[0] - fitted.coefs_[0]).max() > 1e-3


def test_fit_starts_a_fresh_solver_and_fresh_weights_after_partial_fit():
    X, y = scaled_iris()
    fresh = fit_quietly(classifier(solver="nag", **no_stop(5)), X, y)
    clf = classifier(solver="nag", **no_stop(5))
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    fit_quietly(clf, X, y)
    assert_same_model(clf, fresh, rtol=0, atol=0)
    assert clf.loss_curve_ == fresh.loss_curve_
    assert clf.n_iter_ == 5 and clf.t_ == 5 * 150
    # Fitting twice gives the same model again.
    fit_quietly(clf, X, y)
    assert_same_model(clf, fresh, rtol=0, atol=0)


def test_warm_start_keeps_the_weights_but_restarts_the_momentum():
    X, y = scaled_iris()
    clf = fit_quietly(classifier(solver="nag", warm_start=True, **no_stop(5)), X, y)
    _, x = layout_and_theta(clf)
    clf.set_params(max_iter=4, n_iter_no_change=10)
    fit_quietly(clf, X, y)
    # A fresh NAG (t_1 = 1, y_1 = x_0) started from the previous weights.
    objective = full_batch_objective(clf, X, y)
    lookahead, t = x.copy(), 1.0
    for _ in range(4):
        x_previous, x = x, lookahead - LR * objective.value_and_gradient(lookahead)[1]
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        lookahead = x + (t - 1) / t_next * (x - x_previous)
        t = t_next
    assert_allclose(layout_and_theta(clf)[1], x, rtol=1e-12, atol=1e-14)
    assert clf.n_iter_ == 4
    # Carrying the momentum over (as partial_fit does) would be another model.
    continued = fit_quietly(classifier(solver="nag", **no_stop(5)), X, y)
    for _ in range(4):
        continued.partial_fit(X, y)
    assert not np.allclose(continued.coefs_[0], clf.coefs_[0], rtol=1e-8)


def test_fit_without_warm_start_ignores_the_previous_weights():
    X, y = scaled_iris()
    clf = fit_quietly(classifier(solver="gd", **no_stop(3)), X, y)
    fit_quietly(clf.set_params(max_iter=6, n_iter_no_change=7), X, y)
    fresh = fit_quietly(classifier(solver="gd", **no_stop(6)), X, y)
    assert_same_model(clf, fresh, rtol=0, atol=0)


# ----------------------------------------------------------------------------
# dtypes and sparse input


def test_float32_input_trains_and_predicts_in_float32():
    X, y = scaled_iris()
    X32 = X.astype(np.float32)
    clf = fit_quietly(classifier(max_iter=30), X32, y)
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X32).dtype == np.float32
    assert clf.predict_log_proba(X32).dtype == np.float32
    clf64 = fit_quietly(classifier(max_iter=30), X, y)
    assert all(c.dtype == np.float64 for c in clf64.coefs_ + clf64.intercepts_)
    assert clf64.predict_proba(X).dtype == np.float64
    # The same training, to float32 rounding.
    for c32, c64 in zip(clf.coefs_, clf64.coefs_):
        assert_allclose(c32, c64, rtol=1e-3, atol=1e-4)


def test_float32_partial_fit_stays_float32():
    X, y = scaled_iris()
    clf = classifier(solver="nag")
    for _ in range(3):
        clf.partial_fit(X.astype(np.float32), y, classes=[0, 1, 2])
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)


@pytest.mark.parametrize(
    "first, later", [(np.float32, np.float64), (np.float64, np.float32)]
)
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_a_later_call_keeps_the_dtype_of_the_fitted_model(first, later, how):
    # As MLPClassifier's weights keep their dtype: the first call chose
    # the model's precision. (A float32 model became float64 on a float64
    # partial_fit.) The call equals one on the rows cast to that dtype.
    X, y = scaled_iris()
    X_later = X.astype(later)

    def fitted():
        clf = classifier(solver="nag", warm_start=how == "warm_start", max_iter=3)
        if how == "partial_fit":
            return clf.partial_fit(X.astype(first), y, classes=[0, 1, 2])
        return fit_quietly(clf, X.astype(first), y)

    def go_on(clf, rows):
        if how == "partial_fit":
            return clf.partial_fit(rows, y)
        return fit_quietly(clf, rows, y)

    clf = go_on(fitted(), X_later)
    assert all(c.dtype == first for c in clf.coefs_ + clf.intercepts_)
    same = go_on(fitted(), X_later.astype(first))
    assert_same_model(clf, same, rtol=0, atol=0)
    assert clf.loss_curve_ == same.loss_curve_


def test_rows_past_float32s_range_are_refused_by_a_float32_model():
    X, y = scaled_iris()
    clf = classifier().partial_fit(X.astype(np.float32), y, classes=[0, 1, 2])
    before = [c.copy() for c in clf.coefs_]
    huge = X.copy()
    huge[0, 0] = 1e39
    with pytest.raises(ValueError, match=r"too large for dtype\('float32'\)"):
        clf.partial_fit(huge, y)
    for c, saved in zip(clf.coefs_, before):
        assert_array_equal(c, saved)
    # The model goes on from where it was.
    assert clf.partial_fit(X, y).n_iter_ == 2


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_gives_the_dense_model_and_probabilities(fmt):
    X, y = small_problem(n_samples=80)
    X[np.abs(X) < 0.7] = 0.0
    X_sparse = sp.csr_matrix(X).asformat(fmt)
    params = dict(solver="nag", batch_size=20, **no_stop(15))
    dense = fit_quietly(classifier(**params), X, y)
    sparse = fit_quietly(classifier(**params), X_sparse, y)
    assert_same_model(sparse, dense, rtol=1e-10, atol=1e-12)
    assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-10)
    assert_allclose(
        sparse.predict_proba(X_sparse), dense.predict_proba(X), rtol=1e-10, atol=1e-14
    )
    assert_allclose(dense.predict_proba(X_sparse), dense.predict_proba(X), rtol=1e-12)


# ----------------------------------------------------------------------------
# Parameters that fit or partial_fit refuse


@pytest.mark.parametrize("sizes", [0, -2])
def test_integer_hidden_layer_sizes_below_one_is_an_invalid_parameter(sizes):
    X, y = scaled_iris()
    with pytest.raises(
        InvalidParameterError, match="The 'hidden_layer_sizes' parameter"
    ):
        classifier(hidden_layer_sizes=sizes).fit(X, y)


def test_unknown_solver_is_an_invalid_parameter():
    X, y = scaled_iris()
    with pytest.raises(
        InvalidParameterError,
        match="The 'solver' parameter of SoftplusMLPClassifier must be a str among",
    ):
        classifier(solver="adam").fit(X, y)


def test_partial_fit_with_early_stopping_raises_and_leaves_the_estimator():
    X, y = scaled_iris()
    clf = classifier(early_stopping=True)
    with pytest.raises(ValueError, match="early_stopping"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(NotFittedError):
        clf.predict(X)


# ----------------------------------------------------------------------------
# Shapes, labels and attributes


def test_binary_problem_has_two_softmax_outputs():
    X, y = small_problem(n_classes=2)
    clf = fit_quietly(classifier(learning_rate_init=0.2, max_iter=200), X, y)
    assert clf.n_outputs_ == 2
    assert clf.out_activation_ == "softmax"
    assert clf.coefs_[-1].shape == (8, 2) and clf.intercepts_[-1].shape == (2,)
    proba = clf.predict_proba(X)
    assert proba.shape == (60, 2)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(clf.predict(X), clf.classes_[np.argmax(proba, axis=1)])
    assert clf.score(X, y) > 0.9


def test_string_labels_give_the_integer_label_model():
    X, y = scaled_iris()
    labels = np.array(["setosa", "versicolor", "virginica"])
    clf = fit_quietly(classifier(max_iter=20), X, labels[y])
    integer = fit_quietly(classifier(max_iter=20), X, y)
    assert_array_equal(clf.classes_, labels)
    assert_same_model(clf, integer, rtol=0, atol=0)
    predicted = clf.predict(X)
    assert predicted.dtype.kind == "U"
    assert_array_equal(predicted, labels[integer.predict(X)])
    assert len(set(predicted)) == 3


def test_no_hidden_layer_is_a_two_layer_network():
    X, y = scaled_iris()
    clf = fit_quietly(classifier(hidden_layer_sizes=(), max_iter=50), X, y)
    assert clf.n_layers_ == 2
    assert len(clf.coefs_) == len(clf.intercepts_) == 1
    assert clf.coefs_[0].shape == (4, 3) and clf.intercepts_[0].shape == (3,)
    # Multinomial logistic regression: the probabilities are a softmax of X W + b.
    z = X @ clf.coefs_[0] + clf.intercepts_[0]
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert_allclose(clf.predict_proba(X), expected, rtol=1e-12)


def test_two_hidden_layers_give_four_layers_of_the_given_sizes():
    X, y = scaled_iris()
    clf = fit_quietly(classifier(hidden_layer_sizes=[7, 5], max_iter=5), X, y)
    assert clf.n_layers_ == 4
    assert [c.shape for c in clf.coefs_] == [(4, 7), (7, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (3,)]


def test_all_documented_fitted_attributes_exist_after_fit():
    X, y = scaled_iris()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = fit_quietly(classifier(max_iter=5), frame, y)
    assert_array_equal(clf.classes_, [0, 1, 2])
    assert len(clf.coefs_) == len(clf.intercepts_) == 2
    assert clf.n_features_in_ == 4
    assert_array_equal(clf.feature_names_in_, ["a", "b", "c", "d"])
    assert clf.n_iter_ == 5 and clf.t_ == 750
    assert clf.loss_ == clf.loss_curve_[-1] and len(clf.loss_curve_) == 5
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert clf.n_layers_ == 3 and clf.n_outputs_ == 3
    assert clf.out_activation_ == "softmax"
    # Without feature names there is no feature_names_in_.
    assert not hasattr(fit_quietly(classifier(max_iter=5), X, y), "feature_names_in_")


def test_fitted_attributes_with_early_stopping():
    X, y = scaled_iris()
    clf = classifier(early_stopping=True, max_iter=15, n_iter_no_change=20)
    fit_quietly(clf, X, y)
    assert clf.best_loss_ is None
    assert len(clf.validation_scores_) == clf.n_iter_ == 15
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert all(0.0 <= s <= 1.0 for s in clf.validation_scores_)


def test_unfitted_estimator_raises_not_fitted_error():
    X, _ = scaled_iris()
    for method in ("predict", "predict_proba", "predict_log_proba"):
        with pytest.raises(NotFittedError):
            getattr(classifier(), method)(X)


# ----------------------------------------------------------------------------
# Sample weights


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_integer_sample_weights_equal_repeated_rows(solver):
    X, y = small_problem()
    weights = np.random.RandomState(1).randint(1, 4, size=60)
    params = dict(solver=solver, alpha=0.05, **no_stop(20))
    weighted = fit_quietly(classifier(**params), X, y, sample_weight=weights)
    repeated = fit_quietly(
        classifier(**params), np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    assert_same_model(weighted, repeated, rtol=1e-10, atol=1e-10)
    assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-10)


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_zero_sample_weights_equal_removed_rows(solver):
    X, y = small_problem()
    weights = np.ones(60)
    weights[::4] = 0.0
    params = dict(solver=solver, alpha=0.05, **no_stop(20))
    weighted = fit_quietly(classifier(**params), X, y, sample_weight=weights)
    removed = fit_quietly(classifier(**params), X[weights > 0], y[weights > 0])
    assert_same_model(weighted, removed, rtol=1e-10, atol=1e-10)
    assert_allclose(weighted.loss_curve_, removed.loss_curve_, rtol=1e-10)


def test_unit_sample_weights_equal_no_sample_weights():
    X, y = small_problem()
    weighted = fit_quietly(classifier(max_iter=10), X, y, sample_weight=np.ones(60))
    plain = fit_quietly(classifier(max_iter=10), X, y)
    assert_same_model(weighted, plain, rtol=1e-14, atol=1e-15)


# ----------------------------------------------------------------------------
# scikit-learn integration


def test_grid_search_over_learning_rate_in_a_pipeline_refits_the_best_model():
    X, y = load_iris(return_X_y=True)
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("clf", classifier(hidden_layer_sizes=(8,), max_iter=100)),
        ]
    )
    grid = {"clf__learning_rate_init": [0.001, 0.05, 0.3]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(pipeline, grid, cv=3, n_jobs=2).fit(X, y)
    best_lr = search.best_params_["clf__learning_rate_init"]
    assert best_lr in grid["clf__learning_rate_init"]
    assert best_lr != 0.001  # 100 epochs at 0.001 barely move the weights
    assert search.best_score_ > 0.9
    direct = fit_quietly(
        classifier(hidden_layer_sizes=(8,), max_iter=100, learning_rate_init=best_lr),
        StandardScaler().fit_transform(X),
        y,
    )
    assert_same_model(search.best_estimator_.named_steps["clf"], direct)
    assert_allclose(search.predict_proba(X), direct.predict_proba(scaled_iris()[0]))


def test_default_parameters_fit_standardised_iris_to_95_percent():
    # The one test that keeps the default learning rate: it pins the defaults.
    X, y = scaled_iris()
    clf = fit_quietly(SoftplusMLPClassifier(random_state=0), X, y)
    assert clf.score(X, y) >= 0.95


# ----------------------------------------------------------------------------
# Parameters changed between partial_fit calls


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_partial_fit_follows_a_learning_rate_changed_between_calls(solver):
    X, y = scaled_iris()
    clf = classifier(solver=solver)
    clf.partial_fit(X, y, classes=np.unique(y))
    network, before = layout_and_theta(clf)
    clf.set_params(learning_rate_init=3 * LR)
    clf.partial_fit(X, y)
    # NAG's second step carries no momentum (t_1 = 1): for both solvers it is
    # a plain gradient step, here with the new rate.
    _, gradient = full_batch_objective(clf, X, y).value_and_gradient(before)
    assert_allclose(
        layout_and_theta(clf)[1], before - 3 * LR * gradient, rtol=1e-12, atol=1e-14
    )
    assert clf.learning_rate_ == 3 * LR


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "adam"},
        {"batch_size": 0},
        {"learning_rate_init": -1.0},
        {"momentum": "x"},
        {"restart": "bogus"},
        {"alpha": -1.0},
    ],
)
@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_a_parameter_set_between_partial_fit_calls_is_checked(estimator, params):
    # scikit-learn's _fit_context checks a partial_fit's parameters on the
    # first call only. Before, an unknown solver then trained as L-BFGS, a
    # negative rate climbed the loss and batch_size=0 ended in a
    # ZeroDivisionError.
    X, y = scaled_iris()
    if estimator == "classifier":
        model = classifier().partial_fit(X, y, classes=np.unique(y))
    else:
        model = SoftplusMLPRegressor(hidden_layer_sizes=(4,), random_state=0)
        y = X[:, 0]
        model.partial_fit(X, y)
    coefs, loss_curve = [c.copy() for c in model.coefs_], list(model.loss_curve_)
    model.set_params(**params)
    (name,) = params
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter"):
        model.partial_fit(X, y)
    # Checked before anything of the model is touched.
    assert model.loss_curve_ == loss_curve
    for after, fitted in zip(model.coefs_, coefs):
        assert_array_equal(after, fitted)


def test_partial_fit_with_another_solver_starts_that_solver_afresh():
    X, y = scaled_iris()
    clf = classifier(solver="nag")
    for _ in range(3):
        clf.partial_fit(X, y, classes=np.unique(y))
    before = layout_and_theta(clf)[1]
    clf.set_params(solver="gd")
    clf.partial_fit(X, y)
    network, after = layout_and_theta(clf)
    _, gradient = Objective(
        network, X, y, np.ones(len(y)), clf.alpha
    ).value_and_gradient(before)
    assert_allclose(after, before - LR * gradient, rtol=1e-12, atol=1e-14)
    # And it stays steepest descent: the next steps carry no momentum (a
    # fresh NAG's third step would).
    objective = Objective(network, X, y, np.ones(len(y)), clf.alpha)
    for _ in range(2):
        before = layout_and_theta(clf)[1]
        clf.partial_fit(X, y)
        _, gradient = objective.value_and_gradient(before)
        assert_allclose(
            layout_and_theta(clf)[1], before - LR * gradient, rtol=1e-12, atol=1e-14
        )
