"""check_gradients: right gradients pass, wrong ones fail, nothing is modified."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier, check_gradients
from skmlp._evaluation.objective import Objective

# Any warning a test does not expect fails it (pytest.warns or a filter names
# the expected ones).
pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(scope="module")
def iris_subset():
    X, y = load_iris(return_X_y=True)
    rows = np.random.RandomState(0).choice(len(y), 40, replace=False)
    X = StandardScaler().fit_transform(X)[rows]
    weights = np.random.RandomState(1).uniform(0.1, 3.0, len(rows))
    return X, y[rows], weights


@pytest.mark.parametrize("hidden_layer_sizes", [(), (1,), (16,), (7, 5, 3)])
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_gradient_of_every_architecture_matches_finite_differences(
    iris_subset, hidden_layer_sizes, alpha
):
    X, y, weights = iris_subset
    clf = SoftplusMLPClassifier(hidden_layer_sizes=hidden_layer_sizes, alpha=alpha)
    assert check_gradients(clf, X, y, weights, random_state=0) < 1e-7
    assert check_gradients(clf, X, y, random_state=1) < 1e-7


@pytest.fixture
def gradient_points(monkeypatch):
    """The points at which Objective.value_and_gradient is called, in order."""
    points = []
    real = Objective.value_and_gradient

    def recording(self, theta):
        points.append(theta.copy())
        return real(self, theta)

    monkeypatch.setattr(Objective, "value_and_gradient", recording)
    return points


def test_fitted_estimator_is_checked_at_its_weights(iris_subset, gradient_points):
    X, y, weights = iris_subset
    clf = SoftplusMLPClassifier(
        hidden_layer_sizes=(6,), max_iter=30, learning_rate_init=0.5, random_state=0
    )
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    gradient_points.clear()
    assert check_gradients(clf, X, y, weights) < 1e-7
    flat = np.concatenate(
        [np.r_[c.ravel(), b] for c, b in zip(clf.coefs_, clf.intercepts_)]
    )
    np.testing.assert_array_equal(gradient_points[0], flat)


def test_a_fitted_estimator_is_checked_at_its_weights_whatever_its_sizes_say_now(
    iris_subset, gradient_points
):
    # The check takes the network the estimator holds: hidden_layer_sizes
    # changed since the fit (which the next fit would start afresh from)
    # neither stops it nor changes the point; float32 rows are checked in
    # float64 with the weights taken in float64 too.
    X, y, weights = iris_subset
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(6,), max_iter=3, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    error = check_gradients(clf, X, y, weights)
    checked = gradient_points.pop()
    clf.set_params(hidden_layer_sizes=(2, 2))
    assert check_gradients(clf, X, y, weights) == error
    np.testing.assert_array_equal(gradient_points.pop(), checked)
    assert check_gradients(clf, X.astype(np.float32), y, weights) == check_gradients(
        clf, X.astype(np.float32).astype(np.float64), y, weights
    )


def test_an_unfitted_estimators_parameters_are_validated_first(iris_subset):
    X, y, _ = iris_subset
    with pytest.raises(ValueError, match="'solver' parameter"):
        check_gradients(SoftplusMLPClassifier(solver="sgd"), X, y)


@pytest.mark.parametrize("alpha", [-1.0, float("nan"), "x", None])
def test_a_fitted_estimators_parameters_are_validated_as_partial_fit_does(
    iris_subset, alpha
):
    # They were not: alpha=-1 and NaN were checked as given (NaN gave NaN),
    # and "x" failed in a TypeError deep in the penalty.
    X, y, _ = iris_subset
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    clf.set_params(alpha=alpha)
    with pytest.raises(ValueError, match="'alpha' parameter"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="'alpha' parameter"):
        check_gradients(clf, X, y)


def test_unfitted_estimator_is_checked_at_fits_initial_weights(
    iris_subset, gradient_points
):
    X, y, _ = iris_subset
    rng = np.random.RandomState(3)
    state = rng.get_state()[1].copy()
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(5, 4), max_iter=1, random_state=rng)
    params = clf.get_params()
    check_gradients(clf, X, y)
    checked = gradient_points.pop()
    # Neither the estimator nor its RandomState moved.
    assert not hasattr(clf, "coefs_")
    assert clf.get_params() == params
    np.testing.assert_array_equal(rng.get_state()[1], state)

    # fit (GD's first gradient is at the initial weights) starts from there.
    clf.set_params(solver="gd").partial_fit(X, y, classes=np.unique(y))
    np.testing.assert_array_equal(gradient_points[0], checked)
    # The random_state argument stands in for the estimator's.
    gradient_points.clear()
    check_gradients(
        SoftplusMLPClassifier(hidden_layer_sizes=(5, 4)), X, y, random_state=3
    )
    np.testing.assert_array_equal(gradient_points[0], checked)


def _scale_first_layer_gradient(real, factor):
    def wrong(self, theta):
        loss, gradient = real(self, theta)
        coefs, _ = self.layout.unpack(gradient)
        coefs[0] *= factor
        return loss, gradient

    return wrong


def test_sparse_input_is_checked_too(iris_subset):
    X, y, weights = iris_subset
    X = np.where(np.abs(X) > 0.5, X, 0.0)
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(5,), alpha=0.2)
    for matrix in (sp.csr_matrix, sp.csc_matrix):
        assert check_gradients(clf, matrix(X), y, weights, random_state=0) < 1e-7


def test_a_wrong_gradient_is_caught(iris_subset, monkeypatch):
    X, y, weights = iris_subset
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(7, 5), alpha=0.1)
    real = Objective.value_and_gradient
    monkeypatch.setattr(
        Objective, "value_and_gradient", _scale_first_layer_gradient(real, 1.01)
    )
    # A 1% error in one block of a few dozen coordinates, far above 1e-7.
    assert check_gradients(clf, X, y, weights, random_state=0) > 1e-4


def test_dropping_the_transposed_weights_is_caught(iris_subset, monkeypatch):
    """The seed report's bug: d1 = sigmoid(z1) * e2 without W1^T."""
    X, y, _ = iris_subset
    # With as many hidden units as classes W1^T e2 has the shape of e2, so the
    # buggy formula runs; recompute the first layer's gradient that way.
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(3,), alpha=0.0)
    real = Objective.value_and_gradient

    def buggy(self, theta):
        loss, gradient = real(self, theta)
        (W0, W1), (b0, b1) = self.layout.unpack(theta)
        (gW0, _), (gb0, _) = self.layout.unpack(gradient)
        z1 = self.X @ W0 + b0
        logits = np.logaddexp(0, z1) @ W1 + b1
        e2 = np.exp(logits - logits.max(axis=1, keepdims=True))
        e2 /= e2.sum(axis=1, keepdims=True)
        e2[np.arange(len(self.y)), self.y] -= 1
        d1 = 0.5 * (1 + np.tanh(z1 / 2)) * e2 / len(self.y)
        gW0[...] = self.X.T @ d1
        gb0[...] = d1.sum(axis=0)
        return loss, gradient

    monkeypatch.setattr(Objective, "value_and_gradient", buggy)
    assert check_gradients(clf, X, y, random_state=0) > 0.1


def test_classes_unknown_to_a_fitted_estimator_are_rejected(iris_subset):
    X, y, _ = iris_subset
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X[y < 2], y[y < 2])
    # The message of a partial_fit given classes it was not fitted on.
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        check_gradients(clf, X, y)
    with pytest.raises(ValueError, match="epsilon"):
        check_gradients(clf, X[y < 2], y[y < 2], epsilon=0.0)


@pytest.mark.parametrize("epsilon", [0.0, -1e-6, np.inf, np.nan, None, "1e-6"])
def test_an_epsilon_that_is_not_a_positive_finite_float_is_refused(
    iris_subset, epsilon
):
    # inf gave NaN with 49 RuntimeWarnings, None and a string a TypeError.
    X, y, _ = iris_subset
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(3,), random_state=0)
    message = r"The 'epsilon' parameter of check_gradients must be a float in the range"
    with pytest.raises(ValueError, match=message):
        check_gradients(clf, X, y, epsilon=epsilon)


def test_an_epsilon_below_the_weights_float_spacing_is_an_error_not_a_nan(
    iris_subset,
):
    # theta +- 1e-17 rounds to theta for weights above about 0.1: the
    # difference was 0 / 0, and the check NaN with one RuntimeWarning.
    X, y, _ = iris_subset
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(3,), random_state=0)
    with pytest.raises(ValueError, match="epsilon=1e-17 is below the spacing"):
        check_gradients(clf, X, y, epsilon=1e-17)


def test_gradients_whose_squares_overflow_are_checked_as_any(iris_subset, monkeypatch):
    # Inputs of 1e160, which fit trains on: the norms of the relative error
    # overflowed, and a right gradient scored 0 ("both zero"), one halved NaN.
    X, y, _ = iris_subset
    X = StandardScaler().fit_transform(X) * 1e160
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(5,), random_state=0)
    assert 0.0 < check_gradients(clf, X, y) < 1e-7
    real = Objective.value_and_gradient

    def halved(self, theta):
        loss, gradient = real(self, theta)
        return loss, 0.5 * gradient

    monkeypatch.setattr(Objective, "value_and_gradient", halved)
    assert check_gradients(clf, X, y) == pytest.approx(0.5, rel=1e-6)


def test_a_pipeline_of_the_estimator_alone_is_checked_as_the_estimator(iris_subset):
    # estimator[:-1] is then an empty Pipeline, which has no transform: an
    # AttributeError, fitted or not.
    from sklearn.pipeline import Pipeline

    X, y, _ = iris_subset
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(3,), random_state=0)
    alone = Pipeline([("mlp", clf)])
    assert check_gradients(alone, X, y) == check_gradients(clf, X, y)
    with pytest.warns(ConvergenceWarning):
        alone.set_params(mlp__max_iter=2).fit(X, y)
    assert check_gradients(alone, X, y) == check_gradients(alone[-1], X, y)


def test_pipeline_is_checked_at_its_last_step_on_the_transformed_rows():
    X, y = load_iris(return_X_y=True)
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(5,), alpha=0.1, random_state=0)
    pipeline = make_pipeline(StandardScaler(), clf)
    # Unfitted: the transformers are fitted on X, on a copy.
    error = check_gradients(pipeline, X, y, random_state=3)
    assert error < 1e-7
    assert error == check_gradients(
        clf, StandardScaler().fit_transform(X), y, random_state=3
    )
    assert not hasattr(pipeline[0], "mean_")
    # Fitted: checked at the weights of the last step, on its input.
    with pytest.warns(ConvergenceWarning):
        pipeline.set_params(softplusmlpclassifier__max_iter=5).fit(X, y)
    X_scaled = pipeline[0].transform(X[::3])
    error = check_gradients(pipeline, X[::3], y[::3])
    assert error < 1e-7
    assert error == check_gradients(pipeline[-1], X_scaled, y[::3])


@pytest.mark.parametrize(
    "estimator",
    [LogisticRegression(), make_pipeline(StandardScaler(), LogisticRegression())],
)
def test_other_estimators_are_rejected_with_what_check_gradients_takes(estimator):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(
        TypeError,
        match="takes a SoftplusMLPClassifier, a SoftplusMLPRegressor or a Pipeline",
    ):
        check_gradients(estimator, X, y)
