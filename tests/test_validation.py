"""The checks of what fit and partial_fit are given: views of the estimator,
hidden_layer_sizes, the sample weights' sum, what validate_call returns and
learns on a first and a later call, what fit, partial_fit and predict refuse
and in which words, and the validation split of early stopping."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from fitting import classifier, fit_quietly, scaled_iris
from numpy.testing import assert_array_equal
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.model_selection import train_test_split

from skmlp import SoftplusMLPClassifier
from skmlp._validation import (
    check_weight_sum,
    fitted_view,
    hidden_layer_sizes,
    learned_attributes,
    starts_afresh,
    validate_call,
    validation_split,
    view,
)

X_IRIS, Y_IRIS = load_iris(return_X_y=True)


def _fitted(**params):
    clf = SoftplusMLPClassifier(
        hidden_layer_sizes=(3,), max_iter=3, random_state=0, **params
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X_IRIS, Y_IRIS)


# --- view, fitted_view ---


def test_view_is_an_independent_copy_of_the_attributes():
    clf = _fitted()
    model = view(clf)
    assert type(model) is SoftplusMLPClassifier
    assert model is not clf
    assert model.get_params() == clf.get_params()
    assert_array_equal(model.classes_, clf.classes_)
    # Writing attributes on the view leaves the estimator as it was, and
    # the other way round.
    model.classes_ = np.array(["a"])
    model.n_features_in_ = 99
    del model.coefs_
    clf.t_ = -1
    assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_features_in_ == 4
    assert hasattr(clf, "coefs_")
    assert model.t_ != -1


def test_view_of_an_unfitted_estimator_has_only_the_parameters():
    clf = SoftplusMLPClassifier(alpha=0.5)
    model = view(clf)
    assert model.alpha == 0.5
    assert not hasattr(model, "classes_")


def test_fitted_view_of_an_unfitted_estimator_raises_not_fitted():
    with pytest.raises(NotFittedError, match="SoftplusMLPClassifier"):
        fitted_view(SoftplusMLPClassifier())


def test_fitted_view_of_a_fitted_estimator_predicts_as_it():
    clf = _fitted()
    model = fitted_view(clf)
    assert model is not clf
    assert_array_equal(model.predict(X_IRIS), clf.predict(X_IRIS))


# --- hidden_layer_sizes ---


@pytest.mark.parametrize(
    "sizes, expected",
    [
        (5, (5,)),
        ((5,), (5,)),
        ([3, 4], (3, 4)),
        ((np.int64(2), np.int32(7)), (2, 7)),
        ((), ()),
        (range(1, 3), (1, 2)),
    ],
)
def test_hidden_layer_sizes_as_a_tuple_of_ints(sizes, expected):
    result = hidden_layer_sizes(sizes)
    assert result == expected
    assert type(result) is tuple
    assert all(type(size) is int for size in result)


@pytest.mark.parametrize("sizes", [(7.0,), (True,), True, (3, "4"), [2, 1.5]])
def test_hidden_layer_sizes_not_integers(sizes):
    # (A float alone, 7.0, is refused before, by the estimator's parameter
    # constraints: see the next test.)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be integers"):
        hidden_layer_sizes(sizes)


@pytest.mark.parametrize("sizes", [0, (3, 0), (-1,), [4, -2]])
def test_hidden_layer_sizes_not_positive(sizes):
    # MLPClassifier's words.
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        hidden_layer_sizes(sizes)


def test_a_0d_array_is_the_one_size_it_holds():
    # np.array(5) passes the estimator's parameter constraints as an
    # array-like; it cannot be iterated (a raw TypeError, as in
    # MLPClassifier): it is taken as np.int64(5) is, one layer of 5.
    assert hidden_layer_sizes(np.array(5)) == (5,)
    for not_integer in (np.array(5.0), np.array(True)):
        with pytest.raises(ValueError, match="hidden_layer_sizes must be integers"):
            hidden_layer_sizes(not_integer)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        hidden_layer_sizes(np.array(0))
    clf = SoftplusMLPClassifier(hidden_layer_sizes=np.array(3), max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(np.eye(4), [0, 1, 0, 1])
    assert [coef.shape for coef in clf.coefs_] == [(4, 3), (3, 2)]


def test_a_float_hidden_layer_size_is_refused_by_the_estimator():
    with pytest.raises(ValueError, match="'hidden_layer_sizes' parameter"):
        SoftplusMLPClassifier(hidden_layer_sizes=7.0).fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="hidden_layer_sizes must be integers"):
        SoftplusMLPClassifier(hidden_layer_sizes=(7.0,)).fit(np.eye(4), [0, 1, 0, 1])


# --- check_weight_sum ---


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weight_sum_that_overflows(dtype):
    # Each weight is finite, their sum is not.
    big = np.finfo(dtype).max / 2
    weights = np.array([big / 4, big, big], dtype=dtype)
    with pytest.raises(ValueError, match="its sum overflows") as error:
        check_weight_sum(weights)
    message = str(error.value)
    assert np.dtype(dtype).name in message
    assert f"{big:.3g}" in message
    assert "Divide sample_weight and alpha by the same factor" in message


@pytest.mark.parametrize("weights", [[0.0, 0.0], [0.0], [-1.0, 1.0]])
def test_weight_sum_not_positive(weights):
    with pytest.raises(ValueError, match="The sum of sample_weight must be positive"):
        check_weight_sum(np.array(weights))


@pytest.mark.parametrize("weights", [[0.0, 1e-300], [1.0, 2.0], [3.0e38, 1.0e38]])
def test_weight_sum_positive_and_finite_passes(weights):
    # The last overflows float32 but not float64, the dtype given.
    assert check_weight_sum(np.array(weights)) is None


def test_fit_refuses_weights_of_overflowing_sum():
    weights = np.full(len(X_IRIS), np.finfo(np.float64).max / 10)
    with pytest.raises(ValueError, match="its sum overflows"):
        SoftplusMLPClassifier().fit(X_IRIS, Y_IRIS, sample_weight=weights)


# --- validate_call ---


def _validate(model, X, y, sample_weight, incremental, classes):
    """The validation of a call on ``model`` (a view), as the estimator
    makes it: whether it starts afresh, then its data; returns the
    validated data and that answer."""
    hidden = hidden_layer_sizes(model.hidden_layer_sizes)
    first_call = starts_afresh(model, hidden, incremental, classes)
    X, y, sample_weight = validate_call(
        model, X, y, sample_weight, incremental, first_call
    )
    return X, y, sample_weight, first_call


def _call(model, X, y, sample_weight=None, incremental=False, classes=None):
    return _validate(view(model), X, y, sample_weight, incremental, classes)


def test_first_fit_call_encodes_the_labels_and_learns_the_columns():
    labels = np.array(["b", "c", "a", "c", "b", "a"])
    X = np.arange(12.0).reshape(6, 2)
    model = view(SoftplusMLPClassifier())
    Xv, yv, weights, first = _validate(model, X, labels, None, False, None)
    assert first
    assert_array_equal(model.classes_, ["a", "b", "c"])
    assert model.out_activation_ == "softmax"
    assert model.n_features_in_ == 2
    assert not hasattr(model, "feature_names_in_")
    # y as indices into classes_, weights all ones of X's dtype.
    assert_array_equal(yv, [1, 2, 0, 2, 1, 0])
    assert_array_equal(model.classes_[yv], labels)
    assert_array_equal(weights, np.ones(6))
    assert weights.dtype == Xv.dtype == np.float64
    assert set(learned_attributes(model)) == {
        "classes_",
        "out_activation_",
        "n_features_in_",
    }


def test_float32_is_kept_and_integers_become_float64():
    X = np.arange(12).reshape(6, 2)
    y = np.arange(6) % 2
    Xv, _, weights, _ = _call(SoftplusMLPClassifier(), X.astype(np.float32), y)
    assert Xv.dtype == weights.dtype == np.float32
    Xv, _, weights, _ = _call(SoftplusMLPClassifier(), X, y)
    assert Xv.dtype == weights.dtype == np.float64


def test_the_weights_dtype_can_be_chosen_apart_from_xs():
    # check_gradients takes the weights in float64 for float32 rows: 0.1 is
    # not rounded to float32 on the way.
    model = view(SoftplusMLPClassifier())
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    Xv, _, weights = validate_call(
        model, X, np.arange(6) % 2, np.full(6, 0.1), False, True, np.float64
    )
    assert Xv.dtype == np.float32
    assert weights.dtype == np.float64
    assert_array_equal(weights, 0.1)


def test_csc_becomes_csr():
    X = sp.csc_matrix(np.eye(4))
    Xv, *_ = _call(SoftplusMLPClassifier(), X, [0, 1, 0, 1])
    assert Xv.format == "csr"


def test_multilabel_first_call():
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    model = view(SoftplusMLPClassifier())
    _, yv, _, _ = _validate(model, np.eye(4), y, None, False, None)
    assert model.out_activation_ == "logistic"
    assert_array_equal(model.classes_, [0, 1, 2])
    assert yv.dtype == np.float64
    assert_array_equal(yv, y)


def test_a_column_vector_y_warns_as_mlpclassifier():
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        _, yv, _, _ = _call(SoftplusMLPClassifier(), np.eye(4), [[0], [1], [1], [0]])
    assert yv.shape == (4,)
    # In MLPClassifier's words, at the user's line, as skmlp's other
    # warnings (column_or_1d's own stacklevel named skmlp's file), once.
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        SoftplusMLPClassifier(max_iter=1).fit(np.eye(4), [[0], [1], [1], [0]])
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        MLPClassifier(max_iter=1).fit(np.eye(4), [[0], [1], [1], [0]])
    (conversion,) = [w for w in ours if w.category is DataConversionWarning]
    assert conversion.filename == __file__
    (expected,) = [w for w in theirs if w.category is DataConversionWarning]
    assert str(conversion.message) == str(expected.message)


def test_a_2d_y_of_other_values_than_0_and_1():
    with pytest.raises(ValueError, match="Multioutput target data is not supported"):
        _call(SoftplusMLPClassifier(), np.eye(3), [[0, 2], [1, 0], [2, 1]])


def test_feature_names_are_learned_on_a_first_call():
    X = pd.DataFrame(np.eye(4), columns=["p", "q", "r", "s"])
    model = view(SoftplusMLPClassifier())
    _validate(model, X, [0, 1, 0, 1], None, False, None)
    assert_array_equal(model.feature_names_in_, ["p", "q", "r", "s"])
    assert "feature_names_in_" in learned_attributes(model)


def test_validate_call_writes_only_on_the_view():
    clf = SoftplusMLPClassifier()
    _call(clf, np.eye(4), [0, 1, 0, 1])
    assert not hasattr(clf, "classes_")
    assert not hasattr(clf, "n_features_in_")


def test_fit_without_warm_start_starts_afresh_and_relearns():
    clf = _fitted()
    model = view(clf)
    X = np.arange(10.0).reshape(5, 2)
    *_, first = _validate(model, X, [5, 6, 5, 6, 5], None, False, None)
    assert first
    assert model.n_features_in_ == 2
    assert_array_equal(model.classes_, [5, 6])


def test_fit_with_warm_start_goes_on_and_checks():
    clf = _fitted(warm_start=True)
    model = view(clf)
    _, yv, _, first = _validate(model, X_IRIS, Y_IRIS[::-1], None, False, None)
    assert not first
    assert_array_equal(model.classes_, [0, 1, 2])
    assert_array_equal(yv, Y_IRIS[::-1])
    # Other classes, other columns: refused in scikit-learn's words.
    with pytest.raises(ValueError, match="warm_start can only be used where `y`"):
        _call(clf, X_IRIS, Y_IRIS % 2)
    with pytest.raises(ValueError, match="X has 3 features, but"):
        _call(clf, X_IRIS[:, :3], Y_IRIS)


def test_warm_start_with_new_hidden_layers_starts_afresh():
    clf = _fitted(warm_start=True)
    clf.set_params(hidden_layer_sizes=(5,))
    *_, first = _call(clf, X_IRIS, Y_IRIS)
    assert first


def test_partial_fit_first_call_takes_classes_and_later_calls_check_them():
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(3,))
    model = view(clf)
    X, y = X_IRIS[:10], np.zeros(10, dtype=int)
    _, yv, _, first = _validate(model, X, y, None, True, [0, 1, 2])
    assert first
    assert_array_equal(model.classes_, [0, 1, 2])
    assert_array_equal(yv, 0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    model = view(clf)
    _, yv, _, first = _validate(model, X, y + 2, None, True, None)
    assert not first
    assert_array_equal(yv, 2)
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        _call(clf, X, y + 3, incremental=True)
    # A first partial_fit needs classes (scikit-learn's check).
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        _call(SoftplusMLPClassifier(), X, y, incremental=True)


def test_partial_fit_with_new_hidden_layers_is_refused():
    clf = _fitted()
    clf.set_params(hidden_layer_sizes=(2, 2))
    with pytest.raises(ValueError, match=r"changed from \(3,\) to \(2, 2\)"):
        _call(clf, X_IRIS, Y_IRIS, incremental=True)


def test_one_label_per_row_and_multilabel_do_not_mix():
    clf = _fitted(warm_start=True)
    indicator = np.eye(3, dtype=int)[Y_IRIS]
    with pytest.raises(ValueError, match="not fitted with multilabel input"):
        _call(clf, X_IRIS, indicator)
    with pytest.raises(ValueError, match="multilabel input"):
        _call(clf, X_IRIS, indicator, incremental=True)
    multilabel = SoftplusMLPClassifier(hidden_layer_sizes=(3,), max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        multilabel.fit(X_IRIS, indicator)
    with pytest.raises(ValueError, match="fitted on multilabel targets"):
        _call(multilabel, X_IRIS, Y_IRIS, incremental=True)
    with pytest.raises(ValueError, match="mismatch with the labels"):
        _call(multilabel, X_IRIS, indicator[:, :2], incremental=True)


def test_partial_fit_multilabel_classes_must_name_the_columns():
    indicator = np.eye(3, dtype=int)[Y_IRIS]
    with pytest.raises(ValueError, match=r"classes=range\(3\)"):
        _call(
            SoftplusMLPClassifier(), X_IRIS, indicator, incremental=True,
            classes=["a", "b", "c"],
        )  # fmt: skip


def test_sample_weight_checks():
    X, y = np.eye(4), [0, 1, 0, 1]
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        _call(SoftplusMLPClassifier(), X, y, sample_weight=[1.0, -1.0, 1.0, 1.0])
    # All zero: scikit-learn's _check_sample_weight refuses them first
    # (since 1.8), check_weight_sum otherwise.
    with pytest.raises(
        ValueError,
        match="at least one non-zero number|The sum of sample_weight must be positive",
    ):
        _call(SoftplusMLPClassifier(), X, y, sample_weight=np.zeros(4))
    with pytest.raises(ValueError, match="its sum overflows"):
        _call(SoftplusMLPClassifier(), X, y, sample_weight=np.full(4, 1e308))
    _, _, weights, _ = _call(SoftplusMLPClassifier(), X, y, sample_weight=2.0)
    assert_array_equal(weights, 2.0)


# --- what fit, partial_fit and predict refuse, in the estimator's words ---


@pytest.mark.parametrize(
    "value, message",
    [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")],
)
def test_non_finite_x_is_rejected(value, message):
    X, y = scaled_iris()
    X = X.copy()
    X[3, 1] = value
    with pytest.raises(ValueError, match=message):
        classifier().fit(X, y)
    with pytest.raises(ValueError, match=message):
        classifier().partial_fit(X, y, classes=[0, 1, 2])
    fitted = fit_quietly(classifier(max_iter=2), *scaled_iris())
    with pytest.raises(ValueError, match=message):
        fitted.predict(X)


def test_wrong_number_of_features_is_rejected_at_predict_and_partial_fit():
    X, y = scaled_iris()
    clf = classifier()
    clf.partial_fit(X, y, classes=[0, 1, 2])
    message = "X has 3 features, but SoftplusMLPClassifier is expecting 4 features"
    with pytest.raises(ValueError, match=message):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match=message):
        clf.predict_proba(X[:, :3])
    with pytest.raises(ValueError, match=message):
        clf.partial_fit(X[:, :3], y)
    assert clf.n_iter_ == 1


def test_one_dimensional_x_is_rejected():
    X, y = scaled_iris()
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        classifier().fit(X[:, 0], y)


def test_partial_fit_rejects_a_label_not_in_classes():
    X, y = scaled_iris()
    clf = classifier()
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(NotFittedError):
        clf.predict(X)
    clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    assert_array_equal(clf.classes_, [0, 1, 2, 3])
    assert clf.predict_proba(X).shape == (150, 4)
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        clf.partial_fit(X, np.where(y == 2, 7, y))


def test_first_partial_fit_requires_classes():
    X, y = scaled_iris()
    with pytest.raises(
        ValueError, match="classes must be passed on the first call to partial_fit"
    ):
        classifier().partial_fit(X, y)


def test_negative_sample_weight_is_rejected():
    X, y = scaled_iris()
    sample_weight = np.ones(150)
    sample_weight[10] = -1.0
    with pytest.raises(
        ValueError, match="Negative values in data passed to `sample_weight`"
    ):
        classifier().fit(X, y, sample_weight=sample_weight)


def test_continuous_target_is_rejected():
    X, _ = scaled_iris()
    with pytest.raises(ValueError, match="Unknown label type"):
        classifier().fit(X, np.linspace(0, 1, 150))


@pytest.mark.parametrize("sizes", [(0,), (5, 0), (5, -1), [-3]])
def test_hidden_layer_sizes_with_zero_or_negative_is_rejected(sizes):
    X, y = scaled_iris()
    with pytest.raises(ValueError, match=r"hidden_layer_sizes must be > 0, got \["):
        classifier(hidden_layer_sizes=sizes).fit(X, y)


@pytest.mark.parametrize("sizes", [(7.0,), (True,), (4, 2.5), ("8",)])
def test_hidden_layer_sizes_that_are_not_integers_are_named_so(sizes):
    # "must be > 0" would be false of 7.0: the message says what is wrong.
    X, y = scaled_iris()
    with pytest.raises(ValueError, match=r"hidden_layer_sizes must be integers"):
        classifier(hidden_layer_sizes=sizes).fit(X, y)


# --- validation_split ---


def _train(n=60, weights=None):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    y = np.array([0] * (n // 2) + [1] * (n // 3) + [2] * (n - n // 2 - n // 3))
    weights = np.arange(1.0, n + 1) if weights is None else weights
    return X, y, weights


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5])
def test_validation_split_is_train_test_split_stratified(fraction):
    X, y, w = _train()
    (Xt, yt, wt), (Xv, yv, wv) = validation_split(
        (X, y, w), np.random.RandomState(3), fraction
    )
    expected = train_test_split(
        X, y, w, random_state=np.random.RandomState(3), test_size=fraction,
        stratify=y,
    )  # fmt: skip
    for got, want in zip((Xt, Xv, yt, yv, wt, wv), expected):
        assert_array_equal(got, want)
    # Sizes as train_test_split makes them: ceil of the fraction held out.
    assert len(yv) == int(np.ceil(fraction * len(y)))
    assert len(yt) + len(yv) == len(y)
    # Stratified: each class's share of the validation rows is its share of
    # all rows, up to one row.
    for label in np.unique(y):
        assert abs(np.sum(yv == label) - fraction * np.sum(y == label)) <= 1
    # The rows keep their labels and weights (weights are row numbers + 1).
    rows = (np.concatenate([wt, wv]) - 1).astype(int)
    assert sorted(rows) == list(range(len(y)))
    assert_array_equal(np.concatenate([yt, yv]), y[rows])
    assert_array_equal(np.concatenate([Xt, Xv]), X[rows])


def test_validation_split_is_reproducible_for_a_seed():
    X, y, w = _train()
    first = validation_split((X, y, w), np.random.RandomState(7), 0.2)
    again = validation_split((X, y, w), np.random.RandomState(7), 0.2)
    other = validation_split((X, y, w), np.random.RandomState(8), 0.2)
    assert_array_equal(first[1][2], again[1][2])
    assert_array_equal(first[0][2], again[0][2])
    assert not np.array_equal(first[1][2], other[1][2])


def test_validation_split_of_multilabel_targets_is_not_stratified():
    # Stratifying on an indicator matrix would take each row pattern as a
    # class, and fail on patterns of one row: MLPClassifier does not.
    X = np.arange(20.0).reshape(10, 2)
    y = np.eye(10, dtype=int)[:, :3]
    y[:, 0] = np.arange(10) % 2
    (_, yt, _), (_, yv, _) = validation_split(
        (X, y, np.ones(10)), np.random.RandomState(0), 0.3
    )
    assert yv.shape == (3, 3)
    assert yt.shape == (7, 3)


def test_validation_split_too_small():
    # One class (stratifying three classes into one row fails earlier, in
    # train_test_split's words): 5% of 20 rows is one row.
    X, _, w = _train(n=20)
    y = np.zeros(20, dtype=int)
    with pytest.raises(ValueError, match="The validation set is too small"):
        validation_split((X, y, w), np.random.RandomState(0), 0.05)
    # Two rows are enough: 5% of 40.
    X, _, w = _train(n=40)
    _, (_, y_val, _) = validation_split(
        (X, np.zeros(40, dtype=int), w), np.random.RandomState(0), 0.05
    )
    assert len(y_val) == 2


def test_an_impossible_stratified_split_names_the_labels_and_the_remedies():
    # train_test_split names the classes by their indices (a class "[3]"
    # the user's labels do not have), and not early stopping.
    labels = np.array(["ant", "bee", "cat", "zebra"], dtype=object)
    X, y, w = _train(n=40)
    y = y.copy()
    y[0] = 3
    with pytest.raises(ValueError) as raised:
        validation_split((X, y, w), np.random.RandomState(0), 0.2, labels)
    message = str(raised.value)
    assert "classes ['zebra'] have a single row" in message
    assert "[3]" not in message
    for remedy in ("validation_fraction", "X_val, y_val", "early_stopping=False"):
        assert remedy in message
    # Fewer validation rows than classes: 10% of 20 rows is 2, for 3.
    X, y, w = _train(n=20)
    with pytest.raises(ValueError, match=r"the 2 validation rows .* of the 3 classes"):
        validation_split((X, y, w), np.random.RandomState(0), 0.1, labels[:3])


def test_early_stopping_with_a_class_of_one_row_says_which_label():
    X, y, _ = _train(n=40)
    labels = np.array(["ant", "bee", "cat"], dtype=object)[y]
    labels[0] = "zebra"
    clf = SoftplusMLPClassifier((3,), early_stopping=True, random_state=0)
    with pytest.raises(ValueError, match=r"early_stopping .* \['zebra'\]"):
        clf.fit(X, labels)
    # With the validation data given, nothing is split: it fits.
    clf.fit(X[1:], labels[1:], X_val=X[:10], y_val=labels[1:11])
    assert list(clf.classes_) == ["ant", "bee", "cat"]


@pytest.mark.parametrize("part", ["training", "validation"])
def test_validation_split_leaving_a_part_without_weight(part):
    # The split depends on y and the seed, not on the weights: weight only
    # on the rows of the other part leaves this part with none.
    X, y, rows = _train(n=20)
    (_, _, train_rows), (_, _, val_rows) = validation_split(
        (X, y, rows), np.random.RandomState(0), 0.5
    )
    other = val_rows if part == "training" else train_rows
    weights = np.zeros(20)
    weights[(other - 1).astype(int)] = 1.0
    with pytest.raises(ValueError, match=f"left the {part} rows with no weight"):
        validation_split((X, y, weights), np.random.RandomState(0), 0.5)


def test_validation_split_leaving_weight_on_one_validation_row():
    # One weighed row to score: a regressor's R^2 was 0 at every epoch (the
    # weighted mean is that row's target), and early stopping kept the
    # first epoch. Two weighed rows are enough.
    X, y, rows = _train(n=20)
    _, (_, _, val_rows) = validation_split((X, y, rows), np.random.RandomState(0), 0.5)
    held = (val_rows - 1).astype(int)
    weights = np.ones(20)
    weights[held[1:]] = 0.0
    with pytest.raises(ValueError, match="left weight on 1 of its 10 rows"):
        validation_split((X, y, weights), np.random.RandomState(0), 0.5)
    weights[held[1]] = 1.0
    validation_split((X, y, weights), np.random.RandomState(0), 0.5)


@pytest.mark.parametrize("scale", [1e39, 1e-46])
def test_float64_weights_out_of_float32s_range_are_refused_naming_xs_dtype(scale):
    # The weights are cast to X's dtype. scikit-learn's check after the
    # cast said that weights of 1e39 contained infinity and that weights
    # of 1e-46, all positive, had no non-zero number.
    from skmlp import SoftplusMLPRegressor

    X, y = scaled_iris()
    X32 = X.astype(np.float32)
    weights = np.full(len(y), scale)
    for model, target in (
        (classifier(max_iter=3), y),
        (SoftplusMLPRegressor(max_iter=3), X[:, 0]),
    ):
        with pytest.raises(
            ValueError,
            match=r"sample_weight contains .*dtype\('float32'\), the dtype of X",
        ) as error:
            model.fit(X32, target, sample_weight=weights)
        assert "divide the weights by the largest (and alpha" in str(error.value)
        assert not hasattr(model, "coefs_")
        # The same weights divided by the largest fit; so do these with
        # float64 X (with alpha scaled alike for the small ones: the penalty
        # is divided by their sum), and a weight of 1e-46 beside weights of
        # 1 in float32 (it rounds to 0, a row left out, as its weight says).
        fit_quietly(model, X32, target, sample_weight=weights / scale)
        alpha = model.alpha
        fit_quietly(
            model.set_params(alpha=alpha * min(scale, 1.0)),
            X,
            target,
            sample_weight=weights,
        )
        model.set_params(alpha=alpha)
        fit_quietly(model, X32, target, sample_weight=np.r_[1e-46, np.ones(len(y) - 1)])
    X_val, y_val = X32[:20], y[:20]
    clf = classifier(max_iter=3, early_stopping=True)
    with pytest.raises(ValueError, match="sample_weight_val contains") as error:
        clf.fit(X32, y, X_val=X_val, y_val=y_val, sample_weight_val=np.full(20, scale))
    assert str(error.value).endswith("divide the weights by the largest.")


def test_weights_out_of_range_name_the_dtype_that_decides_after_sklearns_checks():
    # The check of the cast came before scikit-learn's own checks, and its
    # advice named X's dtype where the fitted model's decides.
    from skmlp import SoftplusMLPRegressor

    X, y = scaled_iris()
    X32 = X.astype(np.float32)
    n = len(y)
    # scikit-learn's words for the sign and the shape, in float32 as in
    # float64 (after the cast, -1e39 "contained infinity").
    for X_in in (X32, X):
        with pytest.raises(ValueError, match="Negative values in data passed to"):
            classifier(max_iter=3).fit(X_in, y, sample_weight=np.full(n, -1e39))
        with pytest.raises(ValueError, match=r"sample_weight.shape == \(30,\)"):
            classifier(max_iter=3).fit(X_in, y, sample_weight=np.full(30, 1e39))
    with pytest.raises(ValueError, match="sample_weight_val is invalid: Negative"):
        classifier(max_iter=3, early_stopping=True).fit(
            X32, y, X_val=X32[:20], y_val=y[:20], sample_weight_val=np.full(20, -1e39)
        )
    # A float32 model goes on in float32 whatever X is: casting X is no
    # remedy there.
    model = fit_quietly(SoftplusMLPRegressor(max_iter=3), X32, X[:, 0])
    with pytest.raises(ValueError, match="the dtype of the fitted model") as error:
        model.partial_fit(X, X[:, 0], sample_weight=np.full(n, 1e39))
    assert "Cast X" not in str(error.value)


def test_an_impossible_split_of_unstratified_targets_names_validation_fraction():
    # A regressor's targets, and multilabel ones, are not stratified: the
    # split's error was train_test_split's own, of test_size and
    # train_size, which are not the estimator's parameters.
    from sklearn.datasets import make_multilabel_classification

    from skmlp import SoftplusMLPRegressor

    X, Y = make_multilabel_classification(40, 4, n_classes=3, random_state=0)
    for model, y in (
        (SoftplusMLPRegressor(early_stopping=True, validation_fraction=0.999), X[:, 0]),
        (classifier(early_stopping=True, validation_fraction=0.999), Y),
    ):
        with pytest.raises(ValueError) as error:
            model.fit(X, y)
        message = str(error.value)
        assert message.startswith(
            "early_stopping cannot hold out validation_fraction=0.999 of 40 rows"
        )
        assert message.endswith("or set early_stopping=False.")
        assert not hasattr(model, "coefs_")
