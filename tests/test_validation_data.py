"""fit's explicit validation rows (X_val, y_val, sample_weight_val) and the
validation loss of every epoch (validation_loss_curve_), checked against
plain fits stopped at each epoch and scikit-learn's own metrics."""

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from fitting import classifier, fit_quietly, no_stop, scaled_iris
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_multilabel_classification
from sklearn.metrics import accuracy_score, log_loss
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier


@pytest.fixture
def split():
    """Iris, standardised, cut in 100 training rows and 50 validation rows."""
    X, y = scaled_iris()
    order = np.random.RandomState(0).permutation(len(y))
    train, val = order[:100], order[100:]
    return X[train], y[train], X[val], y[val]


def _bce(Y, proba, weight):
    """The binary cross-entropy summed over labels, by hand."""
    rows = -np.sum(Y * np.log(proba) + (1 - Y) * np.log1p(-proba), axis=1)
    return np.average(rows, weights=weight)


@pytest.mark.parametrize("weighted", [False, True])
def test_each_epochs_validation_loss_and_score_are_those_of_a_fit_stopped_there(
    split, weighted
):
    X, y, X_val, y_val = split
    rng = np.random.RandomState(1)
    weight = rng.uniform(0.5, 2, len(y)) if weighted else None
    weight_val = rng.uniform(0.5, 2, len(y_val)) if weighted else None
    n_epochs = 12
    clf = fit_quietly(
        classifier(early_stopping=True, **no_stop(n_epochs)),
        X,
        y,
        weight,
        X_val=X_val,
        y_val=y_val,
        sample_weight_val=weight_val,
    )
    assert len(clf.validation_loss_curve_) == len(clf.validation_scores_) == n_epochs
    for k in (1, 5, n_epochs):
        # The validation rows are not taken out of X: the training of epoch
        # k is that of a plain fit of k epochs on all of X.
        plain = fit_quietly(classifier(**no_stop(k)), X, y, weight)
        proba = plain.predict_proba(X_val)
        assert_allclose(
            clf.validation_loss_curve_[k - 1],
            log_loss(y_val, proba, sample_weight=weight_val),
            rtol=1e-12,
        )
        assert clf.validation_scores_[k - 1] == pytest.approx(
            accuracy_score(y_val, plain.predict(X_val), sample_weight=weight_val),
            abs=1e-12,
        )
    # The validation loss is the data's alone: a penalty changes the
    # training objective, not how the predictions are scored.
    assert clf.loss_curve_[-1] != clf.validation_loss_curve_[-1]


def test_the_best_epoch_is_kept_and_is_the_plain_fit_stopped_there(split):
    X, y, X_val, y_val = split
    clf = fit_quietly(
        classifier(early_stopping=True, max_iter=60, n_iter_no_change=5, tol=0.0),
        X,
        y,
        X_val=X_val,
        y_val=y_val,
    )
    best = int(np.argmax(clf.validation_scores_)) + 1
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    plain = fit_quietly(classifier(**no_stop(best)), X, y)
    assert_array_equal(clf.coefs_[0], plain.coefs_[0])
    assert_array_equal(clf.intercepts_[-1], plain.intercepts_[-1])
    assert clf.score(X_val, y_val) == clf.best_validation_score_


def test_a_held_out_split_has_its_loss_curve_and_a_plain_fit_none(split):
    X, y, _, _ = split
    clf = fit_quietly(classifier(early_stopping=True, max_iter=15), X, y)
    assert len(clf.validation_loss_curve_) == len(clf.validation_scores_)
    assert all(np.isfinite(clf.validation_loss_curve_))
    assert fit_quietly(classifier(max_iter=5), X, y).validation_loss_curve_ is None


def test_no_validation_data_leaves_fit_as_it_was(split):
    # Passing None for all three is the fit of old: same model, bit for bit.
    X, y, _, _ = split
    a = fit_quietly(classifier(early_stopping=True, max_iter=20), X, y)
    b = fit_quietly(
        classifier(early_stopping=True, max_iter=20),
        X,
        y,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    )
    assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert a.validation_scores_ == b.validation_scores_


def test_float32_validation_rows_are_scored_in_the_training_dtype(split):
    X, y, X_val, y_val = split
    clf = fit_quietly(
        classifier(early_stopping=True, **no_stop(4)),
        X.astype(np.float32),
        y,
        X_val=X_val,  # float64: cast to the training rows' float32
        y_val=y_val,
    )
    plain = fit_quietly(classifier(**no_stop(4)), X.astype(np.float32), y)
    expected = log_loss(y_val, plain.predict_proba(X_val.astype(np.float32)))
    assert_allclose(clf.validation_loss_curve_[-1], expected, rtol=1e-5)
    assert clf.coefs_[0].dtype == np.float32


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_float64_validation_rows_past_float32s_range_are_refused(split, container):
    # Cast to float32 they were inf (with NumPy's overflow warning), and the
    # fit then reported a divergence of the training.
    X, y, X_val, y_val = split
    X_val = X_val.copy()
    X_val[0, 0] = 1e39
    clf = fit_quietly(classifier(**no_stop(2)), X.astype(np.float32), y)
    before = [coef.copy() for coef in clf.coefs_]
    clf.set_params(early_stopping=True)
    message = (
        r"Input X_val contains infinity or a value too large for dtype\('float32'\)"
    )
    with pytest.raises(ValueError, match=message):
        clf.fit(X.astype(np.float32), y, X_val=container(X_val), y_val=y_val)
    for coef, old in zip(clf.coefs_, before):
        assert_array_equal(coef, old)


def test_sparse_validation_rows_score_as_dense_ones(split):
    X, y, X_val, y_val = split
    dense = fit_quietly(
        classifier(early_stopping=True, **no_stop(6)), X, y, X_val=X_val, y_val=y_val
    )
    sparse = fit_quietly(
        classifier(early_stopping=True, **no_stop(6)),
        X,
        y,
        X_val=sp.csr_matrix(X_val),
        y_val=y_val,
    )
    assert_allclose(sparse.validation_loss_curve_, dense.validation_loss_curve_)
    assert sparse.validation_scores_ == dense.validation_scores_


def test_multilabel_validation_loss_is_the_binary_cross_entropy():
    X, Y = make_multilabel_classification(
        n_samples=160, n_features=6, n_classes=4, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    X, X_val, Y, Y_val = X[:120], X[120:], Y[:120], Y[120:]
    weight_val = np.random.RandomState(2).uniform(0.5, 2, len(Y_val))
    clf = fit_quietly(
        classifier(early_stopping=True, **no_stop(7)),
        X,
        Y,
        X_val=X_val,
        y_val=Y_val,
        sample_weight_val=weight_val,
    )
    plain = fit_quietly(classifier(**no_stop(7)), X, Y)
    proba = plain.predict_proba(X_val)
    assert_allclose(
        clf.validation_loss_curve_[-1], _bce(Y_val, proba, weight_val), rtol=1e-12
    )
    assert clf.validation_scores_[-1] == pytest.approx(
        accuracy_score(Y_val, plain.predict(X_val), sample_weight=weight_val)
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(X_val="X"), "X_val is provided, but y_val was not provided."),
        (dict(y_val="y"), "y_val is provided, but X_val was not provided."),
        (dict(sample_weight_val="w"), "sample_weight_val is provided, but X_val"),
        (dict(X_val="X", y_val="y", early_stopping=False), "early_stopping is False"),
        (
            dict(X_val="X3", y_val="y"),
            r"X_val or y_val is invalid \(X and y below are X_val and y_val\): "
            "X has 3 features, but SoftplusMLPClassifier",
        ),
        (
            dict(X_val="X", y_val="y_short"),
            "y_val is invalid .*inconsistent numbers of samples",
        ),
        (dict(X_val="X", y_val="y_new"), r"y_val has classes not in y: \[7\]"),
        (dict(X_val="X", y_val="Y"), "y_val is an indicator matrix"),
        (
            dict(X_val="X", y_val="y_continuous"),
            r"y_val is invalid \(y below is y_val\): Unknown label type: continuous",
        ),
        (
            dict(X_val="X", y_val="Y_twos"),
            r"y_val is invalid \(y below is y_val\): Multioutput target data",
        ),
        (
            dict(X_val="X", y_val="y", sample_weight_val="w_negative"),
            "sample_weight_val is invalid: Negative values in data",
        ),
        (
            dict(X_val="X", y_val="y", sample_weight_val="w_zero"),
            # scikit-learn's words where it checks it (>= 1.7), else ours.
            "sample_weight_val is invalid: Sample weights must contain at "
            "least one non-zero|The sum of sample_weight_val must be positive",
        ),
        (
            dict(X_val="X", y_val="y", sample_weight_val="w_short"),
            "sample_weight_val is invalid: sample_weight.shape",
        ),
        (
            dict(X_val="X_nan", y_val="y"),
            "X_val or y_val is invalid .*Input X contains NaN",
        ),
        (
            dict(X_val="X1", y_val="y1"),
            "The validation set is too small: X_val has 1 row",
        ),
        (
            # One row to score, as X1: a regressor's R^2 was 0 at every
            # epoch, and its fit kept the first.
            dict(X_val="X", y_val="y", sample_weight_val="w_one"),
            "The validation set is too small: sample_weight_val gives weight "
            "to 1 of the",
        ),
    ],
)
def test_bad_validation_data_raises_and_leaves_the_model_as_it_was(
    split, kwargs, message
):
    X, y, X_val, y_val = split
    n = len(y_val)
    values = {
        "X": X_val,
        "X3": X_val[:, :3],
        "X1": X_val[:1],
        "y1": y_val[:1],
        "X_nan": np.where(np.arange(X_val.size).reshape(X_val.shape) == 3, np.nan, 0),
        "y": y_val,
        "y_short": y_val[:-1],
        "y_new": np.where(np.arange(n) == 0, 7, y_val),
        "Y": np.eye(3, dtype=int)[y_val],
        "Y_twos": 2 * np.eye(3, dtype=int)[y_val],
        "y_continuous": np.linspace(0.1, 0.9, n),
        "w": np.ones(n),
        "w_negative": np.where(np.arange(n) == 0, -1.0, 1.0),
        "w_zero": np.zeros(n),
        "w_one": np.where(np.arange(n) == 0, 2.0, 0.0),
        "w_short": np.ones(n - 1),
    }
    early_stopping = kwargs.pop("early_stopping", True)
    clf = fit_quietly(classifier(max_iter=5), X, y)
    before = joblib.hash(clf)
    clf.set_params(early_stopping=early_stopping)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y, **{name: values[v] for name, v in kwargs.items()})
    clf.set_params(early_stopping=False)
    assert joblib.hash(clf) == before


def test_multilabel_validation_targets_must_have_the_training_labels():
    X, Y = make_multilabel_classification(
        n_samples=80, n_features=5, n_classes=4, random_state=0
    )
    clf = classifier(early_stopping=True, max_iter=3)
    with pytest.raises(ValueError, match="y_val has 3 labels .*but y has 4"):
        clf.fit(X, Y, X_val=X[:10], y_val=Y[:10, :3])
    with pytest.raises(ValueError, match="y_val is one label per row"):
        clf.fit(X, Y, X_val=X[:10], y_val=Y[:10, 0] + 5)


def test_partial_fit_takes_no_validation_data(split):
    X, y, X_val, y_val = split
    with pytest.raises(TypeError, match="X_val"):
        classifier().partial_fit(X, y, classes=[0, 1, 2], X_val=X_val, y_val=y_val)


def test_validation_rows_must_have_the_training_columns_names(split):
    pd = pytest.importorskip("pandas")
    X, y, X_val, y_val = split
    columns = ["a", "b", "c", "d"]
    clf = classifier(early_stopping=True, max_iter=3)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        fit_quietly(clf, pd.DataFrame(X, columns=columns), y, X_val=X_val, y_val=y_val)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.fit(
            pd.DataFrame(X, columns=columns),
            y,
            X_val=pd.DataFrame(X_val, columns=columns[::-1]),
            y_val=y_val,
        )


def test_a_pipeline_transforms_x_val_as_x(split):
    # Pipeline(transform_input=...) came with scikit-learn 1.6's metadata
    # routing of fit's parameters; the oldest supported version may lack it.
    import inspect

    import sklearn

    if "transform_input" not in inspect.signature(Pipeline).parameters:
        pytest.skip("this scikit-learn's Pipeline has no transform_input")
    X, y, X_val, y_val = split
    # Shift and scale the raw features, so that the scaler has work to do.
    X, X_val = 3 * X + 10, 3 * X_val + 10
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline(
            [
                ("scale", StandardScaler()),
                (
                    "mlp",
                    classifier(early_stopping=True, **no_stop(5)).set_fit_request(
                        X_val=True, y_val=True
                    ),
                ),
            ],
            transform_input=["X_val"],
        )
        fit_quietly(pipe, X, y, X_val=X_val, y_val=y_val)
    scaler, mlp = pipe.named_steps["scale"], pipe.named_steps["mlp"]
    # The scaler learnt from X alone, and X_val went through it.
    assert_allclose(scaler.mean_, X.mean(axis=0))
    direct = fit_quietly(
        classifier(early_stopping=True, **no_stop(5)),
        scaler.transform(X),
        y,
        X_val=scaler.transform(X_val),
        y_val=y_val,
    )
    assert mlp.validation_loss_curve_ == direct.validation_loss_curve_
    assert_array_equal(mlp.coefs_[0], direct.coefs_[0])


def test_fit_signature_is_histgradientboostings():
    import inspect

    parameters = inspect.signature(SoftplusMLPClassifier.fit).parameters
    assert list(parameters) == [
        "self",
        "X",
        "y",
        "sample_weight",
        "X_val",
        "y_val",
        "sample_weight_val",
    ]
    for name in ("X_val", "y_val", "sample_weight_val"):
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY


def _regression_split():
    from sklearn.datasets import make_regression

    X, y = make_regression(200, 4, noise=1.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    return X[40:], y[40:] / 100, X[:40], y[:40] / 100


def test_validation_weights_of_any_scale_keep_the_same_epoch_and_scores():
    # Uniform weights of 1e306 (their sum is finite) overflowed the weighted
    # sums of squares of R^2: NaN, then a false 1.0, and early stopping kept
    # an epoch of R^2 0.33 where the best was 0.997. The held-out weights
    # are divided by a power of 2, exactly: weights a power of 2 apart give
    # the same bits, others the same scores to rounding, and the same epoch.
    from skmlp import SoftplusMLPRegressor

    X, y, X_val, y_val = _regression_split()
    params = dict(hidden_layer_sizes=(5,), early_stopping=True, random_state=0)
    plain = fit_quietly(SoftplusMLPRegressor(**params), X, y, X_val=X_val, y_val=y_val)
    for scale in (2.0**1000, 2.0**-1000, 1e306, 3.0, 1e-300):
        weighted = fit_quietly(
            SoftplusMLPRegressor(**params),
            X,
            y,
            X_val=X_val,
            y_val=y_val,
            sample_weight_val=np.full(len(y_val), scale),
        )
        if np.frexp(scale)[0] == 0.5:
            assert weighted.validation_scores_ == plain.validation_scores_
            assert weighted.validation_loss_curve_ == plain.validation_loss_curve_
        assert_allclose(weighted.validation_scores_, plain.validation_scores_, 1e-12)
        assert_allclose(
            weighted.validation_loss_curve_, plain.validation_loss_curve_, 1e-12
        )
        assert weighted.n_iter_ == plain.n_iter_
        for a, b in zip(weighted.coefs_, plain.coefs_):
            assert_array_equal(a, b)


def test_validation_targets_whose_squares_overflow_are_refused_before_training():
    # R^2 was NaN at every epoch, and after the run the message blamed the
    # predictions (finite) and the scale of X_val.
    from skmlp import SoftplusMLPRegressor

    X, y, X_val, y_val = _regression_split()
    y_val = y_val.copy()
    y_val[0] = 1e160
    model = SoftplusMLPRegressor(hidden_layer_sizes=(5,), early_stopping=True)
    with pytest.raises(ValueError, match="y_val is out of range for early stopping"):
        model.fit(X, y, X_val=X_val, y_val=y_val)
    assert not hasattr(model, "coefs_")
