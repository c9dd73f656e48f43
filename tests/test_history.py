"""The history of a training run: the stopping rule, as scikit-learn's
MLPClassifier counts epochs without improvement, the record of an epoch and
the state rebuilt from it, the best point with early stopping, and a
history continued from a fitted estimator's."""

import copy
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from fitting import (
    LR,
    assert_same_model,
    classifier,
    fit_quietly,
    no_stop,
    scaled_iris,
    small_problem,
)
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from skmlp import SoftplusMLPClassifier
from skmlp._math.layout import ParameterLayout
from skmlp._mlp import fitted_attributes, fitted_history
from skmlp._solvers.first_order import GradientDescent
from skmlp._training.history import History, State
from skmlp._training.loop import Result

X_IRIS, Y_IRIS = scaled_iris()


def _counts_by_loss(losses, tol):
    history = History(early_stopping=False, tol=tol)
    counts = []
    for loss in losses:
        history.add_epoch(loss, n_samples=10)
        counts.append(history.no_improvement_count)
    return history, counts


def _counts_by_score(scores, tol):
    history = History(early_stopping=True, tol=tol)
    counts = []
    for k, score in enumerate(scores):
        history.add_epoch(1.0, n_samples=10)
        history.add_validation(score, -score, np.full(3, float(k)))
        counts.append(history.no_improvement_count)
    return history, counts


def test_loss_counter_by_hand():
    # tol = 0.25 and losses of eighths: every comparison is exact. An epoch
    # improves when loss <= best_loss - tol (MLPClassifier's rule: it counts
    # when loss > best_loss - tol); best_loss follows every smaller loss,
    # even one that is no improvement by tol.
    losses = [4.0, 3.875, 3.75, 3.5, 3.5, 3.25, 3.125, 2.875, 2.75]
    history, counts = _counts_by_loss(losses, tol=0.25)
    # 4.0: below inf. 3.875 > 4 - .25: 1 (best 3.875). 3.75 > 3.625: 2
    # (best 3.75). 3.5 = 3.75 - .25, not above: reset. 3.5 > 3.25: 1.
    # 3.25 = 3.5 - .25: reset. 3.125 > 3.0: 1 (best 3.125). 2.875 = 3.125 -
    # .25: reset. 2.75 > 2.625: 1.
    assert counts == [0, 1, 2, 0, 1, 0, 1, 0, 1]
    assert history.best_loss == 2.75
    assert history.loss_curve == losses
    assert history.n_iter == len(losses)
    assert history.t == 10 * len(losses)


def test_a_rise_in_the_loss_does_not_lower_the_best_loss():
    history, counts = _counts_by_loss([2.0, 3.0, 1.5, 1.9], tol=0.0)
    assert counts == [0, 1, 0, 1]
    assert history.best_loss == 1.5


def test_validation_counter_by_hand():
    # An epoch improves when score >= best + tol (MLPClassifier counts when
    # score < best + tol); the best score, and its theta, change only on a
    # strictly higher score.
    scores = [0.5, 0.625, 0.75, 0.875, 0.875, 1.0, 0.5]
    history, counts = _counts_by_score(scores, tol=0.125)
    # 0.5 >= -inf: 0. .625 >= .625: 0. .75 >= .75: 0. .875: 0. .875 < 1.0:
    # 1. 1.0 >= 1.0: 0. 0.5: 1.
    assert counts == [0, 0, 0, 0, 1, 0, 1]
    assert history.best_validation_score == 1.0
    assert_array_equal(history.best_theta, np.full(3, 5.0))
    assert history.validation_scores == scores
    # The loss does not count with early stopping: a constant loss never
    # moved the counter above.
    assert history.best_loss == np.inf


def test_a_score_of_minus_inf_or_nan_is_no_improvement():
    # The R² of overflowing predictions: neither resets the counter (a NaN
    # compared below best + tol as False, and reset it at every epoch, so
    # that the fit never stopped) nor becomes the best.
    nan, inf = float("nan"), float("inf")
    history, counts = _counts_by_score([-inf, nan, 0.5, nan, -inf], tol=0.0)
    assert counts == [1, 2, 0, 1, 2]
    assert history.best_validation_score == 0.5
    assert_array_equal(history.best_theta, np.full(3, 2.0))
    history, counts = _counts_by_score([nan, -inf], tol=0.0)
    assert counts == [1, 2]
    assert history.best_theta is None


def test_an_equal_score_keeps_the_first_best_theta():
    history, counts = _counts_by_score([0.75, 0.75, 0.5], tol=0.0)
    # 0.75 is not below 0.75 + 0: no count; but it is no new best either.
    assert counts == [0, 0, 1]
    assert_array_equal(history.best_theta, np.zeros(3))


def test_best_theta_is_a_copy():
    # The solver updates theta in place after the epoch.
    history = History(early_stopping=True, tol=0.0)
    theta = np.arange(3.0)
    history.add_epoch(1.0, 5)
    history.add_validation(0.5, 1.0, theta)
    theta += 100.0
    assert_array_equal(history.best_theta, np.arange(3.0))


@pytest.mark.parametrize("n_iter_no_change", [1, 3])
def test_should_stop_after_n_iter_no_change_epochs_plus_one(n_iter_no_change):
    # MLPClassifier stops when _no_improvement_count > n_iter_no_change:
    # after n_iter_no_change + 1 epochs without an improvement. (With
    # tol=0 a flat loss would be an improvement each epoch: loss > best - 0
    # is false.)
    history = History(early_stopping=False, tol=0.5)
    history.add_epoch(1.0, 1)
    stops = []
    for _ in range(n_iter_no_change + 1):
        history.add_epoch(1.0, 1)
        stops.append(history.should_stop(n_iter_no_change))
    assert stops == [False] * n_iter_no_change + [True]


def _sklearn_counts(values, tol, early_stopping):
    """MLPClassifier's own counter (``_update_no_improvement_count``) over
    ``values``: losses, or validation scores given by a stand-in ``_score``."""
    mlp = MLPClassifier(tol=tol)
    if not hasattr(mlp, "_update_no_improvement_count"):
        pytest.skip("this scikit-learn has no _update_no_improvement_count")
    mlp._no_improvement_count = 0
    mlp.coefs_, mlp.intercepts_ = [np.zeros(1)], [np.zeros(1)]
    if early_stopping:
        mlp.validation_scores_, mlp.best_validation_score_ = [], -np.inf
    else:
        mlp.loss_curve_, mlp.best_loss_ = [], np.inf
    counts = []
    for value in values:
        if early_stopping:
            mlp._score = lambda X, y, sample_weight=None, value=value: value
        else:
            mlp.loss_curve_.append(value)
        # (scikit-learn before 1.7 takes no sample_weight here.)
        arguments = (None,) * (
            mlp._update_no_improvement_count.__code__.co_argcount - 2
        )
        mlp._update_no_improvement_count(early_stopping, *arguments)
        counts.append(mlp._no_improvement_count)
    best = mlp.best_validation_score_ if early_stopping else mlp.best_loss_
    return counts, best


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("tol", [0.0, 0.125, 1e-3])
def test_counter_agrees_with_mlpclassifier(early_stopping, tol):
    # The rules agree: the same strict inequalities (count when
    # loss > best_loss - tol, or score < best_score + tol), the same reset
    # to 0, the same update of the best value, and (tested above) the same
    # stop, count > n_iter_no_change. Values of eighths repeat and tie,
    # which random floats alone would not.
    rng = np.random.default_rng(int(tol * 1000) + early_stopping)
    values = list(rng.integers(0, 16, size=60) / 8)
    values += list(np.sort(rng.uniform(size=20)))
    expected_counts, expected_best = _sklearn_counts(values, tol, early_stopping)
    if early_stopping:
        history, counts = _counts_by_score(values, tol)
        best = history.best_validation_score
    else:
        history, counts = _counts_by_loss(values, tol)
        best = history.best_loss
    assert counts == expected_counts
    assert best == expected_best


@pytest.mark.parametrize("early_stopping", [False, True])
def test_record_gives_back_the_state_of_its_epoch(early_stopping):
    history = History(early_stopping=early_stopping, tol=0.0)
    losses = [3.0, 2.0, 2.5, 1.0, 1.5]
    scores = [0.25, 0.5, 0.75, 0.5, 0.875]
    records, states = [], []
    for k, (loss, score) in enumerate(zip(losses, scores)):
        history.add_epoch(loss, n_samples=7)
        if early_stopping:
            history.add_validation(score, 2.0 * k, np.full(2, float(k)))
        records.append(history.record())
        states.append(copy.deepcopy(history.state(history.record())))
    # Later epochs change nothing of an earlier record's state.
    for k, record in enumerate(records):
        assert history.state(record) == states[k]
        assert record.n_iter == k + 1
        assert record.t == 7 * (k + 1)
    # The third epoch, by hand.
    third = history.state(records[2])
    assert third.loss_curve == [3.0, 2.0, 2.5]
    assert third.n_iter == 3
    assert third.t == 21
    if early_stopping:
        assert third.best_loss is None
        assert third.validation_scores == [0.25, 0.5, 0.75]
        assert third.validation_loss_curve == [0.0, 2.0, 4.0]
        assert third.best_validation_score == 0.75
        assert third.no_improvement_count == 0
        assert_array_equal(records[2].best_theta, [2.0, 2.0])
        assert_array_equal(records[3].best_theta, [2.0, 2.0])
    else:
        assert third.best_loss == 2.0
        assert third.validation_scores is None
        assert third.validation_loss_curve is None
        assert third.best_validation_score is None
        assert third.no_improvement_count == 1


def test_a_state_does_not_share_the_live_curves():
    history = History(early_stopping=True, tol=0.0)
    history.add_epoch(1.0, 1)
    history.add_validation(0.5, 0.9, np.zeros(1))
    state = history.state(history.record())
    history.add_epoch(0.5, 1)
    history.add_validation(0.75, 0.4, np.zeros(1))
    assert state.loss_curve == [1.0]
    assert state.validation_scores == [0.5]
    assert state.validation_loss_curve == [0.9]


def _fitted(**params):
    clf = SoftplusMLPClassifier(
        hidden_layer_sizes=(4,), max_iter=6, random_state=0, **params
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X_IRIS, Y_IRIS)


def test_continuing_takes_the_fitted_estimators_history():
    clf = _fitted(solver="gd")
    history = History.continuing(fitted_history(clf), early_stopping=False, tol=0.0)
    assert history.loss_curve == clf.loss_curve_
    assert history.loss_curve is not clf.loss_curve_
    assert history.start_loss == clf.loss_curve_[0]
    assert history.best_loss == clf.best_loss_ == min(clf.loss_curve_)
    assert history.n_iter == clf.n_iter_ == 6
    assert history.t == clf.t_ == 6 * len(X_IRIS)
    assert history.no_improvement_count == clf._no_improvement_count
    # A continued history counts only its own new epochs.
    assert history.n_new_epochs == 0
    history.add_epoch(0.1, len(X_IRIS))
    assert clf.loss_curve_ == history.loss_curve[:-1]
    assert history.state(history.record()).n_iter == 7


def test_continuing_after_early_stopping_starts_from_the_lowest_loss():
    # A fit with early stopping tracked accuracy (best_loss_ is None): a
    # partial_fit without it then counts from the lowest loss so far.
    clf = _fitted(solver="gd", early_stopping=True, validation_fraction=0.2)
    assert clf.best_loss_ is None
    clf.set_params(early_stopping=False)
    history = History.continuing(fitted_history(clf), early_stopping=False, tol=0.0)
    assert history.best_loss == min(clf.loss_curve_)
    # The lowest, not the last: a state with a curve that rose at its end
    # (the fit above may end at its lowest).
    state = State(
        loss_curve=[3.0, 1.0, 2.0], validation_scores=[0.5, 0.75, 0.5],
        best_loss=None, best_validation_score=0.75, no_improvement_count=1,
        n_iter=3, t=30,
    )  # fmt: skip
    history = History.continuing(state, early_stopping=False, tol=0.0)
    assert history.best_loss == 1.0
    assert history.start_loss == 3.0
    history.add_epoch(1.5, 10)
    assert history.no_improvement_count == 2
    # And the estimator goes on from there.
    clf.partial_fit(X_IRIS, Y_IRIS)
    assert clf.n_iter_ == 7
    assert clf.best_loss_ == min(clf.loss_curve_)


def test_the_fitted_attributes_of_a_state_give_it_back():
    # The estimator names the history's fitted attributes in one function
    # (fitted_attributes) and reads them back in another (fitted_history):
    # a state written as a model and read back is the same state.
    layout = ParameterLayout((2, 3))
    state = State(
        loss_curve=[3.0, 1.0, 2.0], validation_scores=None, best_loss=1.0,
        best_validation_score=None, no_improvement_count=1, n_iter=3, t=30,
    )  # fmt: skip
    result = Result(
        np.arange(layout.n_params, dtype=float),
        layout,
        GradientDescent(0.1),
        np.random.RandomState(0),
        state,
    )
    model = SimpleNamespace(**fitted_attributes(SimpleNamespace(), result))
    assert fitted_history(model) == state
    assert model.loss_ == 2.0 and model.n_iter_ == 3 and model.t_ == 30
    assert model.n_layers_ == 2 and model.n_outputs_ == 3


def test_partial_fit_continues_the_curve_and_the_counters():
    clf = _fitted(solver="gd")
    curve, t = list(clf.loss_curve_), clf.t_
    clf.partial_fit(X_IRIS, Y_IRIS)
    assert clf.loss_curve_[:-1] == curve
    assert clf.n_iter_ == len(curve) + 1
    assert clf.t_ == t + len(X_IRIS)


def _early_stopping_fit(max_iter):
    clf = SoftplusMLPClassifier(
        hidden_layer_sizes=(4,), solver="gd", learning_rate_init=1.0,
        early_stopping=True, validation_fraction=0.3, n_iter_no_change=100,
        max_iter=max_iter, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X_IRIS, Y_IRIS)


def test_early_stopping_keeps_the_point_of_the_first_best_score():
    # The runs are deterministic: a fit stopped at the epoch of the first
    # best score ends at the point the longer fit kept. Later epochs that
    # tie with it (0.978 on these data) do not replace it.
    long = _early_stopping_fit(30)
    scores = np.array(long.validation_scores_)
    best = int(np.argmax(scores)) + 1
    assert best < 30
    assert (scores[best:] == scores.max()).any()
    assert long.best_validation_score_ == scores.max()
    assert long.n_iter_ == 30
    at_best = _early_stopping_fit(best)
    for coef, kept in zip(long.coefs_, at_best.coefs_):
        assert_array_equal(coef, kept)
    # The epoch before is another point: the equality above tells epochs
    # apart.
    before = _early_stopping_fit(best - 1)
    assert any(
        not np.array_equal(coef, earlier)
        for coef, earlier in zip(long.coefs_, before.coefs_)
    )


# ----------------------------------------------------------------------------
# The counters and the stopping rule through the estimator


def test_partial_fit_counts_epochs_and_rows_over_calls():
    X, y = small_problem()
    clf = classifier(batch_size=16)
    for k in range(1, 4):
        clf.partial_fit(X, y, classes=[0, 1, 2])
        assert clf.n_iter_ == k == len(clf.loss_curve_)
        assert clf.t_ == 60 * k
        assert clf.loss_ == clf.loss_curve_[-1]


@pytest.mark.parametrize("n_iter_no_change", [1, 3, 6])
def test_large_tol_stops_after_first_epoch_and_n_iter_no_change_plus_one_more(
    n_iter_no_change,
):
    # As MLPClassifier: the first epoch sets best_loss_, then stopping comes
    # when n_iter_no_change + 1 epochs in a row did not improve it by tol.
    X, y = scaled_iris()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = classifier(tol=1e3, n_iter_no_change=n_iter_no_change, max_iter=100).fit(
            X, y
        )
        sklearn_clf = MLPClassifier(
            solver="sgd",
            tol=1e3,
            n_iter_no_change=n_iter_no_change,
            learning_rate_init=LR,
            random_state=0,
        ).fit(X, y)
    assert clf.n_iter_ == n_iter_no_change + 2 == sklearn_clf.n_iter_
    assert len(clf.loss_curve_) == clf.n_iter_


def test_small_tol_stops_when_the_loss_stops_improving():
    X, y = scaled_iris()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = classifier(learning_rate_init=0.5, tol=1e-3, n_iter_no_change=4).fit(X, y)
    curve = np.array(clf.loss_curve_)
    assert clf.n_iter_ < clf.max_iter
    # The last n_iter_no_change + 1 epochs each failed to beat the best
    # loss before them by tol; the epoch before them did beat it.
    n = clf.n_iter_no_change + 1
    for k in range(len(curve) - n, len(curve)):
        assert curve[k] > curve[:k].min() - 1e-3
    assert curve[-n - 1] <= curve[: -n - 1].min() - 1e-3


def test_early_stopping_keeps_the_best_validation_epoch_weights():
    X, y = scaled_iris()
    params = dict(
        solver="gd",
        learning_rate_init=0.02,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=5,
        tol=1e-4,
    )
    clf = classifier(**params, max_iter=500)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(scores)
    assert clf.best_loss_ is None
    assert clf.t_ == clf.n_iter_ * 120
    best_epoch = int(np.argmax(scores)) + 1  # first epoch reaching the max
    assert best_epoch < clf.n_iter_  # so the best weights are not the last
    assert np.all(np.array(scores[best_epoch:]) < clf.best_validation_score_ + 1e-4)
    assert len(scores) - best_epoch == clf.n_iter_no_change + 1
    # The same split and steps, stopped at the best epoch, end on its
    # weights (a fit that kept its last epoch would end elsewhere: GD moves
    # at every epoch).
    at_best = fit_quietly(classifier(**params, max_iter=best_epoch), X, y)
    assert at_best.validation_scores_ == scores[:best_epoch]
    assert_same_model(clf, at_best, rtol=0, atol=0)


def test_partial_fit_after_an_early_stopping_fit_continues():
    X, y = scaled_iris()
    clf = fit_quietly(classifier(early_stopping=True, **no_stop(5)), X, y)
    assert clf.best_loss_ is None
    clf.set_params(early_stopping=False)
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 6
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None
