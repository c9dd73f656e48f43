"""Multilabel targets: an indicator matrix ``y``, logistic outputs and the
binary cross-entropy summed over labels, as ``MLPClassifier`` fits them."""

import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, log_expit
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier, check_gradients, score_curve

N_LABELS = 5


@pytest.fixture(scope="module")
def data():
    X, y = make_multilabel_classification(
        n_samples=50, random_state=0, return_indicator=True
    )
    return X, y


@pytest.fixture(scope="module")
def scaled(data):
    X, y = data
    return StandardScaler().fit_transform(X), y


def _fit(X, y, sample_weight=None, **params):
    params = {"hidden_layer_sizes": (8,), "max_iter": 30, "random_state": 0, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SoftplusMLPClassifier(**params).fit(X, y, sample_weight)


def _forward(clf, X):
    """The network's output logits, written out: softplus hidden layers."""
    a = X
    for coef, intercept in zip(clf.coefs_[:-1], clf.intercepts_[:-1]):
        a = np.logaddexp(0, a @ coef + intercept)
    return a @ clf.coefs_[-1] + clf.intercepts_[-1]


def _binary_cross_entropy(clf, X, y, sample_weight):
    """The objective of the user guide for multilabel targets, written out."""
    z = _forward(clf, X)
    per_row = -(y * log_expit(z) + (1 - y) * log_expit(-z)).sum(axis=1)
    weight_sum = sample_weight.sum()
    penalty = sum((coef**2).sum() for coef in clf.coefs_)
    return (sample_weight @ per_row + clf.alpha / 2 * penalty) / weight_sum


def test_scikit_learns_multilabel_classification_test_adapted(data):
    # sklearn/neural_network/tests/test_mlp.py::test_multilabel_classification,
    # with this estimator's solvers ('sgd' with momentum becomes 'nag' with
    # a step that suits the unscaled counts of X).
    X, y = data
    mlp = SoftplusMLPClassifier(
        solver="lbfgs",
        hidden_layer_sizes=50,
        alpha=1e-5,
        max_iter=150,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    assert mlp.score(X, y) > 0.97

    mlp = SoftplusMLPClassifier(
        hidden_layer_sizes=50,
        alpha=1e-5,
        learning_rate_init=0.05,
        random_state=0,
    )
    for _ in range(100):
        mlp.partial_fit(X, y, classes=[0, 1, 2, 3, 4])
    assert mlp.score(X, y) > 0.9

    # Early stopping works though the split is stratified by default (it is
    # not for multilabel targets).
    SoftplusMLPClassifier(early_stopping=True).fit(X, y).predict(X)


def test_fitted_attributes_are_those_of_mlpclassifier(data):
    X, y = data
    clf = _fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = MLPClassifier(max_iter=5, random_state=0).fit(X, y)
    assert clf.out_activation_ == reference.out_activation_ == "logistic"
    assert clf.n_outputs_ == reference.n_outputs_ == N_LABELS
    assert_array_equal(clf.classes_, reference.classes_)
    assert_array_equal(clf.classes_, np.arange(N_LABELS))
    assert clf.predict(X).dtype == reference.predict(X).dtype


def test_predict_proba_is_the_sigmoid_of_each_output_not_normalised(scaled):
    X, y = scaled
    clf = _fit(X, y, hidden_layer_sizes=(6, 4))
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), N_LABELS)
    assert_allclose(proba, expit(_forward(clf, X)), rtol=1e-12)
    # Each label has its own probability: rows do not sum to 1.
    assert not np.allclose(proba.sum(axis=1), 1)
    # log(expit) computed as such: np.log of a probability near 1 loses
    # the digits of its small logarithm.
    assert_allclose(clf.predict_log_proba(X), log_expit(_forward(clf, X)), rtol=1e-12)
    assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-12, atol=1e-15)


def test_predict_is_the_indicator_of_probabilities_above_one_half(scaled):
    X, y = scaled
    clf = _fit(X, y)
    predicted = clf.predict(X)
    assert predicted.shape == y.shape
    assert_array_equal(predicted, (clf.predict_proba(X) > 0.5).astype(int))
    # Both values occur: the threshold does cut.
    assert 0 < predicted.mean() < 1


def test_score_is_the_subset_accuracy(scaled):
    X, y = scaled
    clf = _fit(X, y, max_iter=5)
    predicted = clf.predict(X)
    subset = np.mean((predicted == y).all(axis=1))
    assert clf.score(X, y) == subset
    assert subset != np.mean(predicted == y)


def test_loss_is_the_weighted_binary_cross_entropy_written_out(scaled):
    # A one-step partial_fit reports the loss at the weights it starts from,
    # those of the fitted model.
    X, y = scaled
    weight = np.random.RandomState(1).uniform(0, 3, len(X))
    clf = _fit(X, y, hidden_layer_sizes=(7, 3), alpha=0.3, solver="gd")
    expected = _binary_cross_entropy(clf, X, y, weight)
    clf.partial_fit(X, y, sample_weight=weight)
    assert_allclose(clf.loss_curve_[-1], expected, rtol=1e-12)


def test_without_hidden_layer_it_is_one_logistic_regression_per_label(scaled):
    # alpha / (2 sum w) ||W||^2 + sum_i w_i l_i / sum w is, times sum w / alpha,
    # LogisticRegression's ||w||^2 / 2 + C sum_i w_i l_i with C = 1 / alpha;
    # with no hidden layer the labels do not interact.
    X, y = scaled
    weight = np.random.RandomState(0).uniform(0.5, 2, len(X))
    alpha = 1.0
    clf = SoftplusMLPClassifier(
        hidden_layer_sizes=(),
        solver="lbfgs",
        alpha=alpha,
        tol=0,
        max_iter=300,
        n_iter_no_change=np.inf,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y, sample_weight=weight)
    # L-BFGS stops at scipy's relative decrease of 2.2e-9 per step, which
    # leaves the weights about 1e-5 from the minimum; a wrong scaling of the
    # penalty moves them by 1e-1.
    for label in range(N_LABELS):
        reference = LogisticRegression(C=1 / alpha, tol=1e-12, max_iter=10_000)
        reference.fit(X, y[:, label], sample_weight=weight)
        assert_allclose(clf.coefs_[0][:, label], reference.coef_[0], atol=2e-4)
        assert_allclose(clf.intercepts_[0][label], reference.intercept_[0], atol=2e-4)


def test_integer_sample_weights_equal_repeated_rows(scaled):
    X, y = scaled
    weight = np.random.RandomState(0).randint(0, 3, len(X))
    params = {"solver": "gd", "max_iter": 20, "tol": 0, "n_iter_no_change": np.inf}
    weighted = _fit(X, y, sample_weight=weight, **params)
    repeated = _fit(
        np.repeat(X, weight, axis=0), np.repeat(y, weight, axis=0), **params
    )
    for a, b in zip(weighted.coefs_, repeated.coefs_):
        assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("hidden", [(), (5,), (4, 3)])
def test_gradient_matches_finite_differences(scaled, hidden):
    X, y = scaled
    weight = np.random.RandomState(0).uniform(0, 2, len(X))
    clf = SoftplusMLPClassifier(hidden_layer_sizes=hidden, alpha=0.5)
    assert check_gradients(clf, X, y, weight, random_state=0) < 1e-7
    fitted = _fit(X, y, hidden_layer_sizes=hidden)
    assert check_gradients(fitted, X, y, weight) < 1e-7


def test_partial_fit_continues_exactly_as_fit(scaled):
    X, y = scaled
    params = {
        "hidden_layer_sizes": (6,),
        "max_iter": 12,
        "tol": 0,
        "n_iter_no_change": np.inf,
        "random_state": 0,
    }
    fitted = _fit(X, y, **params)
    incremental = SoftplusMLPClassifier(**params)
    for _ in range(params["max_iter"]):
        incremental.partial_fit(X, y, classes=range(N_LABELS))
    assert_array_equal(incremental.loss_curve_, fitted.loss_curve_)
    for a, b in zip(incremental.coefs_, fitted.coefs_):
        assert_array_equal(a, b)


def test_early_stopping_scores_whole_rows_on_an_unstratified_split():
    # Every row has its own label set, so that a split stratified on the
    # rows' label sets would fail; the validation score counts whole rows
    # (subset accuracy), a multiple of 1 / n_validation.
    X, y = make_multilabel_classification(
        n_samples=100, n_classes=8, n_labels=4, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    assert len(np.unique(y, axis=0)) > 60
    clf = _fit(X, y, early_stopping=True, validation_fraction=0.2, max_iter=40)
    scores = np.array(clf.validation_scores_)
    assert_allclose(scores * 20, np.round(scores * 20), atol=1e-12)
    assert clf.best_validation_score_ == scores.max()


@pytest.mark.parametrize("library", ["joblib", "skops"])
def test_round_trip_gives_identical_predictions(scaled, tmp_path, library):
    X, y = scaled
    clf = _fit(X, y)
    path = tmp_path / "model"
    if library == "skops":
        sio = pytest.importorskip("skops.io")
        sio.dump(clf, path)
        estimator_class = "skmlp._mlp.SoftplusMLPClassifier"
        assert sio.get_untrusted_types(file=path) == [estimator_class]
        loaded = sio.load(path, trusted=[estimator_class])
    else:
        joblib.dump(clf, path)
        loaded = joblib.load(path)
    assert loaded.out_activation_ == "logistic"
    assert_array_equal(loaded.predict(X), clf.predict(X))
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    # And training goes on with multilabel targets.
    loaded.partial_fit(X, y)
    clf.partial_fit(X, y)
    assert_array_equal(loaded.coefs_[0], clf.coefs_[0])


def test_outputs_that_overflow_give_probabilities_not_nan(scaled):
    X, y = scaled
    clf = _fit(X, y, hidden_layer_sizes=(), alpha=1e-5)
    # One feature at the largest float, of either sign: the outputs of the
    # labels that weigh it by more than 1 overflow to +inf or -inf.
    feature = np.argmax(np.abs(clf.coefs_[0]).max(axis=1))
    huge = np.zeros((2, X.shape[1]))
    huge[:, feature] = [np.finfo(float).max, -np.finfo(float).max]
    with np.errstate(over="ignore"):
        logits = _forward(clf, huge)
    assert np.isinf(logits).any()
    proba = clf.predict_proba(huge)
    assert not np.isnan(proba).any()
    assert_array_equal(proba[np.isinf(logits)], logits[np.isinf(logits)] > 0)
    assert_array_equal(clf.predict(huge), logits > 0)


def test_y_of_other_values_than_zero_and_one_is_rejected(data):
    X, y = data
    clf = SoftplusMLPClassifier(max_iter=2)
    with pytest.raises(ValueError, match="Multioutput target data is not supported"):
        clf.fit(X, np.where(y == 1, 2, y))
    with pytest.raises(ValueError, match="Multioutput target data is not supported"):
        clf.fit(X, 2 * y - 1)


def test_mixing_one_label_per_row_and_multilabel_targets_is_rejected(data):
    X, y = data
    multilabel = SoftplusMLPClassifier(max_iter=2).partial_fit(
        X, y, classes=range(N_LABELS)
    )
    with pytest.raises(ValueError, match="fitted on multilabel targets"):
        multilabel.partial_fit(X, y[:, 0])
    with pytest.raises(ValueError, match="mismatch with the labels"):
        multilabel.partial_fit(X, y[:, :3])
    # A warm start on fewer labels says so in MLPClassifier's words (it
    # was told label_binarize's).
    warm = SoftplusMLPClassifier(max_iter=2, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used where `y`"):
        warm.fit(X, y[:, :3])
    multiclass = SoftplusMLPClassifier(max_iter=2).partial_fit(
        X, y[:, 0] + 2 * y[:, 1], classes=range(4)
    )
    with pytest.raises(ValueError, match="not fitted with multilabel input"):
        multiclass.partial_fit(X, y[:, :4])
    # warm_start goes on with the kind of targets it was fitted on, too.
    warm = _fit(X, y, warm_start=True, max_iter=2)
    with pytest.raises(ValueError, match="fitted on multilabel targets"):
        warm.fit(X, y[:, 0])
    # A fit without warm_start starts afresh, with either kind.
    refit = _fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        refit.fit(X, y[:, 0])
    assert refit.out_activation_ == "softmax"
    assert refit.predict(X).shape == (len(X),)


def test_partial_fit_requires_the_labels_as_classes(data):
    X, y = data
    with pytest.raises(ValueError, match="classes must be passed on the first"):
        SoftplusMLPClassifier().partial_fit(X, y)
    for classes in ([0, 1], range(N_LABELS + 2)):
        clf = SoftplusMLPClassifier()
        with pytest.raises(ValueError, match=r"pass classes=range\(5\)"):
            clf.partial_fit(X, y, classes=classes)
        assert not hasattr(clf, "classes_")


def test_a_single_column_is_one_label_per_row_with_a_warning(data):
    X, y = data
    with pytest.warns(Warning, match="column-vector y was passed"):
        clf = _fit(X, y[:, :1])
    assert clf.out_activation_ == "softmax"
    assert clf.predict(X).shape == (len(X),)


def test_sparse_indicator_y_fits_as_the_dense_one(scaled):
    sp = pytest.importorskip("scipy.sparse")
    X, y = scaled
    dense = _fit(X, y)
    sparse = _fit(X, sp.csr_matrix(y))
    assert_array_equal(sparse.predict_proba(X), dense.predict_proba(X))


def test_sparse_indicator_y_gives_sparse_predictions_as_mlpclassifier(scaled, tmp_path):
    # MLPClassifier's label binarizer, fitted on a sparse y, predicts a
    # sparse matrix: so does the model, after later calls on a dense y too,
    # and once saved; a refit on a dense y predicts a dense one again.
    sp = pytest.importorskip("scipy.sparse")
    X, y = scaled
    dense = _fit(X, y)
    model = _fit(X, sp.csc_matrix(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        peer = MLPClassifier((8,), max_iter=30, random_state=0).fit(X, sp.csr_matrix(y))
    predicted = model.predict(X)
    assert type(predicted) is type(peer.predict(X))
    assert predicted.dtype == peer.predict(X).dtype
    assert_array_equal(predicted.toarray(), dense.predict(X))
    assert model.score(X, y) == dense.score(X, y)
    model.partial_fit(X, y)
    assert sp.issparse(model.predict(X))
    joblib.dump(model, tmp_path / "model.joblib")
    assert sp.issparse(joblib.load(tmp_path / "model.joblib").predict(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    assert isinstance(model.predict(X), np.ndarray)


def test_float32_and_mini_batches_fit_as_float64_and_the_full_batch_do(scaled):
    X, y = scaled
    # With a fixed step the two precisions follow one path to rounding.
    single = _fit(X.astype(np.float32), y, learning_rate_init=0.1)
    double = _fit(X, y, learning_rate_init=0.1)
    assert single.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert_allclose(single.predict_proba(X), double.predict_proba(X), atol=1e-5)
    # The adaptive step is chosen from differences of gradients, which
    # float32 holds to fewer digits: the paths part within a few steps, and
    # after 30 steps the losses (about 0.095) differ by 3%.
    single, double = _fit(X.astype(np.float32), y), _fit(X, y)
    assert_allclose(single.learning_rate_, double.learning_rate_, rtol=1e-2)
    assert_allclose(single.loss_, double.loss_, rtol=0.05)
    # One mini-batch of all the rows is the full batch.
    whole = _fit(X, y, batch_size=len(X), solver="gd")
    batched = _fit(X, y, batch_size=len(X) + 7, solver="gd")
    assert_array_equal(whole.coefs_[0], batched.coefs_[0])
    minibatch = _fit(X, y, batch_size=16)
    assert minibatch.predict_proba(X).shape == y.shape


def test_score_curve_trains_on_multilabel_targets(scaled):
    X, y = scaled
    clf, scores = score_curve(
        SoftplusMLPClassifier(hidden_layer_sizes=(8,), random_state=0),
        X[:40], y[:40], X[40:], y[40:], max_iter=4,
    )  # fmt: skip
    assert clf.out_activation_ == "logistic"
    assert scores[-1] == clf.score(X[40:], y[40:])
