"""SoftplusMLPRegressor: the regression twin of the classifier.

Its losses against independent computations (Ridge and PoissonRegressor for
the network with no hidden layer, central differences for the gradient),
its targets' validation, and scikit-learn's own MLPRegressor tests of
``sklearn/neural_network/tests/test_mlp.py``, adapted where a parameter
has a counterpart (the reference of each is in its comment).
"""

import re
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.linear_model import PoissonRegressor, Ridge
from sklearn.metrics import mean_poisson_deviance, r2_score
from sklearn.preprocessing import StandardScaler, scale

from skmlp import DivergenceError, SoftplusMLPRegressor, check_gradients
from skmlp._solvers import first_order

LOSSES = ["squared_error", "poisson"]

# scikit-learn's regression set of test_mlp.py.
X_REG, Y_REG = make_regression(
    n_samples=200, n_features=10, bias=20.0, noise=100.0, random_state=7
)
Y_REG = scale(Y_REG)


def _data(loss, n_outputs, seed=0, n_samples=60, n_features=4):
    """Standardised rows and targets of ``n_outputs`` columns that a small
    network can fit: real ones, or Poisson counts of a log-linear mean."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    coef = rng.normal(scale=0.5, size=(n_features, n_outputs))
    if loss == "poisson":
        y = rng.poisson(np.exp(X @ coef + 0.5)).astype(float)
    else:
        y = X @ coef + rng.normal(scale=0.3, size=(n_samples, n_outputs))
    return X, (y.ravel() if n_outputs == 1 else y)


# ----------------------------------------------------------------------
# The losses against independent computations


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_no_hidden_layer_squared_error_is_ridge(n_outputs, weighted):
    # Sum w_i ||z_i - y_i||^2 / (2 K sum w) + alpha / (2 sum w) ||W||^2,
    # times 2 K sum w, is Ridge's objective with Ridge's alpha K alpha.
    X, y = _data("squared_error", n_outputs, seed=n_outputs)
    weight = np.random.RandomState(1).uniform(0.2, 3.0, len(X)) if weighted else None
    alpha = 0.7
    # L-BFGS stops on scipy's relative decrease of 2.2e-9 short of 1e-6 in
    # the coefficients: NAG's automatic step runs on to the minimum.
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(),
        alpha=alpha,
        tol=0.0,
        max_iter=3000,
        n_iter_no_change=np.inf,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, sample_weight=weight)
    ridge = Ridge(alpha=n_outputs * alpha, tol=1e-12).fit(X, y, sample_weight=weight)
    assert_allclose(model.coefs_[0], ridge.coef_.reshape(n_outputs, -1).T, atol=1e-6)
    assert_allclose(model.intercepts_[0], np.ravel(ridge.intercept_), atol=1e-6)
    assert_allclose(model.predict(X), ridge.predict(X), atol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_no_hidden_layer_poisson_is_poisson_regressor(weighted):
    # PoissonRegressor minimises sum w_i d_i / (2 sum w) + a / 2 ||W||^2 with
    # d_i the deviance, twice this loss's l_i: its a is alpha / sum w.
    X, y = _data("poisson", 1, seed=3, n_samples=80)
    weight = np.random.RandomState(2).uniform(0.2, 3.0, len(X)) if weighted else None
    total = len(X) if weight is None else weight.sum()
    alpha = 2.0
    model = SoftplusMLPRegressor(
        loss="poisson",
        hidden_layer_sizes=(),
        alpha=alpha,
        tol=0.0,
        max_iter=3000,
        n_iter_no_change=np.inf,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, sample_weight=weight)
    glm = PoissonRegressor(alpha=alpha / total, tol=1e-12, max_iter=1000).fit(
        X, y, sample_weight=weight
    )
    assert_allclose(model.coefs_[0].ravel(), glm.coef_, rtol=1e-5, atol=1e-7)
    assert_allclose(model.intercepts_[0][0], glm.intercept_, rtol=1e-5)
    assert_allclose(model.predict(X), glm.predict(X), rtol=1e-5)


def test_squared_error_loss_is_half_the_mean_squared_error():
    # loss_ with alpha=0: half the mean over rows and outputs of the squared
    # residuals of the model's own predictions. A vanishing step leaves the
    # model where its one loss was measured.
    X, y = _data("squared_error", 3, seed=5)
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(5,),
        solver="gd",
        learning_rate_init=1e-300,
        alpha=0.0,
        max_iter=1,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    expected = np.mean((model.predict(X) - y) ** 2) / 2
    assert model.loss_ == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("loss", LOSSES)
def test_gradient_matches_central_differences(loss, n_outputs, weighted, sparse):
    X, y = _data(loss, n_outputs, seed=7, n_samples=25, n_features=3)
    if sparse:
        X[np.abs(X) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    weight = np.random.RandomState(3).uniform(0.2, 3.0, 25) if weighted else None
    model = SoftplusMLPRegressor(
        loss=loss, hidden_layer_sizes=(4, 3), alpha=0.1, random_state=0
    )
    assert check_gradients(model, X, y, sample_weight=weight) < 1e-7


def test_a_fit_starts_from_the_weighted_mean_of_the_targets():
    # The output intercepts start at the loss's intercept-only fit: the
    # weighted mean (log-mean for the Poisson loss), output by output. A
    # vanishing step leaves them there.
    X, y = _data("poisson", 2, seed=9)
    weight = np.random.RandomState(4).uniform(0.2, 3.0, len(X))
    mean = np.average(y, axis=0, weights=weight)
    for loss, expected in (("squared_error", mean), ("poisson", np.log(mean))):
        model = SoftplusMLPRegressor(
            loss=loss,
            hidden_layer_sizes=(),
            solver="gd",
            learning_rate_init=1e-300,
            max_iter=1,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y, sample_weight=weight)
        assert_allclose(model.intercepts_[-1], expected, rtol=1e-14)


# ----------------------------------------------------------------------
# Targets and predictions


@pytest.mark.parametrize("loss", LOSSES)
def test_predictions_have_the_shape_of_the_targets(loss):
    X, y = _data(loss, 3)
    model = SoftplusMLPRegressor(
        loss=loss, hidden_layer_sizes=(5,), max_iter=5, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert model.fit(X, y).predict(X).shape == (60, 3)
        assert model.n_outputs_ == 3
        # One output: 1-d predictions, whether y was a vector or a column,
        # with MLPRegressor's warning for a column.
        with pytest.warns(DataConversionWarning, match="column-vector y"):
            column = model.fit(X, y[:, :1]).predict(X)
        assert column.shape == (60,)
        assert_array_equal(column, model.fit(X, y[:, 0]).predict(X))
    assert (
        model.out_activation_ == {"squared_error": "identity", "poisson": "exp"}[loss]
    )


def test_chunks_equal_fit_on_mini_batches_when_the_first_chunk_has_the_mean():
    # docs/scaling_out.rst: the output intercepts start at the first call's
    # targets' mean, fit's at all of them. With the first chunk moved to
    # the overall mean the loop is fit(batch_size=chunk, shuffle=False);
    # without, the start and so the model differ.
    X, y = make_regression(300, 5, noise=1.0, random_state=0)
    X, y = scale(X), y / y.std() + 3.0
    y[:100] += y[100:].mean() - y[:100].mean()
    params = dict(
        hidden_layer_sizes=(8,),
        random_state=1,
        momentum=0.9,
        learning_rate_init=0.05,
        tol=0.0,
    )

    def models(y):
        whole = SoftplusMLPRegressor(
            max_iter=2, batch_size=100, shuffle=False, **params
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            whole.fit(X, y)
        chunks = SoftplusMLPRegressor(**params)
        for _ in range(2):
            for start in range(0, 300, 100):
                chunks.partial_fit(X[start : start + 100], y[start : start + 100])
        return whole.coefs_ + whole.intercepts_, chunks.coefs_ + chunks.intercepts_

    for got, expected in zip(*models(y)):
        assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    y[:100] -= 0.5
    assert not np.allclose(*(m[-1] for m in models(y)), atol=1e-3)


def test_poisson_out_of_core_recovers_from_a_first_chunk_without_events():
    # Rare counts (mean about 0.03) in chunks of 50 rows, the first of
    # which holds no event. The output intercepts start at the first
    # call's targets; they used to start at -87 (exp 0 in float32), from
    # which the loop over the chunks still predicted about 1e-35 after
    # three passes, a deviance of 5.9 against fit's 0.25.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((1000, 4))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 3.5)).astype(float)
    first = np.flatnonzero(y == 0)[:50]
    order = np.concatenate([first, np.setdiff1d(np.arange(len(y)), first)])
    X, y = X[order], y[order]
    params = dict(
        loss="poisson",
        hidden_layer_sizes=(8,),
        random_state=0,
        momentum=0.9,
        learning_rate_init=0.05,
    )
    chunks = SoftplusMLPRegressor(**params)
    for _ in range(3):
        for start in range(0, len(y), 50):
            chunks.partial_fit(X[start : start + 50], y[start : start + 50])
    whole = SoftplusMLPRegressor(max_iter=3, batch_size=50, shuffle=False, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole.fit(X, y)
    assert chunks.intercepts_[-1][0] == pytest.approx(whole.intercepts_[-1][0], abs=1.5)
    deviance = [mean_poisson_deviance(y, m.predict(X)) for m in (chunks, whole)]
    assert deviance[0] == pytest.approx(deviance[1], rel=0.1)
    # And a chunk of events after one without is no divergence (its loss
    # was 1e4 times the first chunk's, the divergence rule's floor).
    model = SoftplusMLPRegressor(**params).partial_fit(X[:100], np.zeros(100))
    model.partial_fit(X[100:200], np.ones(100))
    assert model.n_iter_ == 2


def test_poisson_predictions_are_the_exponential_of_the_outputs():
    X, y = _data("poisson", 1)
    model = SoftplusMLPRegressor(loss="poisson", hidden_layer_sizes=(3,), max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    hidden = np.logaddexp(0.0, X @ model.coefs_[0] + model.intercepts_[0])
    outputs = hidden @ model.coefs_[1] + model.intercepts_[1]
    assert_allclose(model.predict(X), np.exp(outputs).ravel(), rtol=1e-12)


def test_poisson_rejects_negative_targets_in_scikit_learns_words():
    X, y = _data("poisson", 1)
    y[3] = -1.0
    message = "Some value\\(s\\) of y are out of the valid range of the loss"
    with pytest.raises(ValueError, match=message):
        SoftplusMLPRegressor(loss="poisson").fit(X, y)
    # Zero counts are in range.
    y[3] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        SoftplusMLPRegressor(loss="poisson", max_iter=2, random_state=0).fit(X, y)


@pytest.mark.parametrize("seed", [112, 141])
def test_a_poisson_fit_does_not_end_on_the_step_that_overshot(seed):
    # The adaptive step's first step from its probe overshoots on the
    # deviance, whose curvature grows as its exponential: the iterate after
    # it had a loss of 1e5 to 1e7 times the first, which the third step's
    # safeguard takes back. A fit of two iterations ended on it and raised
    # a DivergenceError (1 seed in 100 of random_state=None). It ends on the
    # iterate that the next step's safeguard leaves, the third step's own.
    X, y = _data("poisson", 1)
    y[3] = 0.0
    params = dict(loss="poisson", random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        two = SoftplusMLPRegressor(max_iter=2, **params).fit(X, y)
        three = SoftplusMLPRegressor(max_iter=3, **params).fit(X, y)
    hidden = np.logaddexp(0.0, X @ two.coefs_[0] + two.intercepts_[0])
    mean = np.exp(hidden @ two.coefs_[1] + two.intercepts_[1]).ravel()
    penalty = two.alpha / (2 * len(y)) * sum((w**2).sum() for w in two.coefs_)
    loss = mean_poisson_deviance(y, mean) / 2 + penalty
    assert loss <= 1.1 * min(two.loss_curve_)
    assert two.loss_curve_ == three.loss_curve_[:2]
    two.partial_fit(X, y)
    for a, b in zip(two.coefs_ + two.intercepts_, three.coefs_ + three.intercepts_):
        assert_array_equal(a, b)


def test_later_calls_must_have_the_fitted_outputs_and_loss():
    X, y = _data("poisson", 2)
    model = SoftplusMLPRegressor(hidden_layer_sizes=(3,)).partial_fit(X, y)
    with pytest.raises(ValueError, match="y has 1 output"):
        model.partial_fit(X, y[:, 0])
    with pytest.raises(ValueError, match="loss changed from 'squared_error'"):
        model.set_params(loss="poisson").partial_fit(X, y)
    with pytest.raises(ValueError, match="y has 3 output"):
        model.set_params(loss="squared_error", warm_start=True).fit(
            X, np.column_stack([y, y[:, 0]])
        )


def test_non_numeric_targets_are_rejected():
    X, _ = _data("squared_error", 1, n_samples=4)
    with pytest.raises(ValueError, match="could not convert|Unknown label"):
        SoftplusMLPRegressor().fit(X, np.array(["a", "b", "c", "d"], dtype=object))


@pytest.mark.parametrize("dtype", ["U", "S"])
@pytest.mark.parametrize("columns", [1, 2])
def test_targets_written_as_strings_are_rejected_not_read_as_numbers(dtype, columns):
    # NumPy would read "1.5" as 1.5; check_array refuses strings for numeric
    # data, in these words, and so does the regressor, for y and y_val.
    X, y = _data("squared_error", columns, n_samples=20)
    strings = y.astype(dtype)
    message = "y holds strings .* Convert your data to numeric values explicitly"
    with pytest.raises(ValueError, match=message):
        SoftplusMLPRegressor(max_iter=2).fit(X, strings)
    with pytest.raises(ValueError, match="y_val holds strings"):
        SoftplusMLPRegressor(max_iter=2, early_stopping=True).fit(
            X, y, X_val=X, y_val=strings
        )


@pytest.mark.parametrize("dtype", ["str", "string"])
def test_pandas_string_targets_are_rejected_as_numpy_strings_are(dtype):
    # validate_data makes an object array of a pandas string column (the
    # dtype of a Series of strings since pandas 3) and then reads it as
    # numbers: the strings are refused before, in a Series or a DataFrame,
    # in fit, partial_fit and as y_val.
    pd = pytest.importorskip("pandas")
    X, y = _data("squared_error", 1, n_samples=20)
    strings = pd.Series(y.astype(str), dtype=dtype)
    if strings.dtype == object:
        pytest.skip("before pandas 3, 'str' is the object dtype (taken as numbers)")
    message = "y holds strings .* Convert your data to numeric values explicitly"
    with pytest.raises(ValueError, match=message):
        SoftplusMLPRegressor(max_iter=2).fit(X, strings)
    with pytest.raises(ValueError, match=message):
        SoftplusMLPRegressor(max_iter=2).partial_fit(X, strings)
    frame = pd.DataFrame({"a": y, "b": strings})
    with pytest.raises(ValueError, match=message):
        SoftplusMLPRegressor(max_iter=2).fit(X, frame)
    with pytest.raises(ValueError, match="y_val holds strings"):
        SoftplusMLPRegressor(max_iter=2, early_stopping=True).fit(
            X, y, X_val=X, y_val=strings
        )


def test_a_categorical_of_strings_is_rejected_one_of_numbers_is_taken():
    # The common pandas form of labels: "1.5" and "2.5" as categories were
    # fitted as quantities, where the same strings in a Series were refused.
    pd = pytest.importorskip("pandas")
    X, y = _data("squared_error", 1, n_samples=20)
    labels = np.where(y > np.median(y), "2.5", "1.5")
    message = "y holds strings \\(dtype category\\)"
    for target in (
        pd.Series(pd.Categorical(labels)),
        pd.DataFrame({"a": y, "b": pd.Categorical(labels)}),
    ):
        with pytest.raises(ValueError, match=message):
            SoftplusMLPRegressor(max_iter=2).fit(X, target)
    with pytest.raises(ValueError, match="y_val holds strings"):
        SoftplusMLPRegressor(max_iter=2, early_stopping=True).fit(
            X, y, X_val=X, y_val=pd.Series(pd.Categorical(labels))
        )
    # Bytes too, as a NumPy array of bytes is refused.
    with pytest.raises(ValueError, match=message):
        SoftplusMLPRegressor(max_iter=2).fit(
            X, pd.Series(pd.Categorical(labels.astype("S")))
        )
    # Categories that are numbers are numbers, as MLPRegressor takes them.
    numbers = pd.Series(pd.Categorical(labels.astype(float)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftplusMLPRegressor(max_iter=2, random_state=0).fit(X, numbers)
        same = SoftplusMLPRegressor(max_iter=2, random_state=0).fit(
            X, labels.astype(float)
        )
    assert_array_equal(model.predict(X), same.predict(X))


@pytest.mark.parametrize(
    "dtype", ["timedelta64[D]", "timedelta64[ns]", "datetime64[D]", "datetime64[s]"]
)
def test_dates_and_durations_are_rejected_not_read_in_their_unit(dtype):
    # As numbers they are counts of the dtype's unit: the same durations in
    # days and in nanoseconds were targets 1e14 times apart.
    X, _ = _data("squared_error", 1, n_samples=20)
    y = np.arange(20).astype(dtype)
    with pytest.raises(ValueError, match="y holds dates or durations .* unit"):
        SoftplusMLPRegressor(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="y_val holds dates or durations"):
        SoftplusMLPRegressor(max_iter=2, early_stopping=True).fit(
            X, np.arange(20.0), X_val=X, y_val=y
        )
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match="y holds dates or durations"):
        SoftplusMLPRegressor(max_iter=2).fit(X, pd.Series(y))


# ----------------------------------------------------------------------
# Training: early stopping, partial_fit, divergence, persistence


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_the_held_out_rows_of_early_stopping_do_not_set_the_start(loss):
    # The output intercepts start from the training rows' (weighted) mean,
    # or its log: that of all the rows leaked the held-out targets into the
    # model, and made early_stopping=True another fit than the same split
    # passed as X_val. The split is rebuilt as the estimator draws it: the
    # initial weights first, then train_test_split from the same generator.
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state

    from skmlp._math.layout import ParameterLayout

    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    y = np.abs(X[:, 0] + 0.1 * rng.randn(200))
    y[rng.rand(200) < 0.2] += 30
    params = dict(
        hidden_layer_sizes=(4,), max_iter=3, random_state=0, loss=loss, tol=0.0,
        early_stopping=True, n_iter_no_change=10, solver="gd", learning_rate_init=1e-3,
    )  # fmt: skip
    with pytest.warns(ConvergenceWarning):
        held = SoftplusMLPRegressor(validation_fraction=0.5, **params).fit(X, y)
    generator = check_random_state(0)
    ParameterLayout((3, 4, 1)).initialize(generator, np.float64)
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, random_state=generator, test_size=0.5
    )
    assert held.score(X_val, y_val) == held.best_validation_score_  # the split
    with pytest.warns(ConvergenceWarning):
        given = SoftplusMLPRegressor(**params).fit(
            X_train, y_train, X_val=X_val, y_val=y_val
        )
    for a, b in zip(held.coefs_ + held.intercepts_, given.coefs_ + given.intercepts_):
        assert_array_equal(a, b)
    assert held.validation_scores_ == given.validation_scores_


def test_early_stopping_is_scored_by_r2_on_the_given_validation_rows():
    X, y = _data("squared_error", 2, seed=11, n_samples=120)
    X_val, y_val = _data("squared_error", 2, seed=12, n_samples=40)
    weight_val = np.random.RandomState(5).uniform(0.2, 3.0, 40)
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(8,), early_stopping=True, max_iter=60, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, X_val=X_val, y_val=y_val, sample_weight_val=weight_val)
    # The model kept is the best epoch's, whose R² is the best score.
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.best_validation_score_ == pytest.approx(
        r2_score(y_val, model.predict(X_val), sample_weight=weight_val), rel=1e-12
    )
    # Its validation loss is half the weighted mean squared error over the
    # outputs.
    best = int(np.argmax(model.validation_scores_))
    residual = model.predict(X_val) - y_val
    expected = np.average(np.mean(residual**2, axis=1) / 2, weights=weight_val)
    assert model.validation_loss_curve_[best] == pytest.approx(expected, rel=1e-9)


def _small_fitted_model():
    """60 rows, and a model of 4 hidden units fitted for 3 epochs on them:
    the model that a refused fit must keep."""
    X, y = _data("squared_error", 1, seed=11, n_samples=60)
    model = SoftplusMLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return X, y, model


def test_one_validation_row_is_refused_and_the_model_kept():
    # R² is not defined on one row: every epoch's score was NaN, no epoch
    # the best, and fit ended in a TypeError.
    X, y, model = _small_fitted_model()
    before = joblib.hash(model)
    model.set_params(early_stopping=True)
    with pytest.raises(ValueError, match="validation set is too small: X_val has 1"):
        model.fit(X, y, X_val=X[:1], y_val=y[:1])
    model.set_params(early_stopping=False)
    assert joblib.hash(model) == before
    # Two rows are scored.
    model.set_params(early_stopping=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, X_val=X[:2], y_val=y[:2])
    assert np.all(np.isfinite(model.validation_scores_))


def test_validation_rows_whose_predictions_overflow_raise_and_keep_the_model():
    # X_val 1e300 times X's scale: every epoch's R² is -inf, no epoch is
    # the best; fit ended in a TypeError.
    X, y, model = _small_fitted_model()
    before = joblib.hash(model)
    model.set_params(early_stopping=True, max_iter=30)
    message = "no epoch with a finite validation score .* of the 11 epochs"
    with pytest.raises(ValueError, match=message):
        model.fit(X, y, X_val=X[:10] * 1e300, y_val=y[:10])
    model.set_params(early_stopping=False, max_iter=3)
    assert joblib.hash(model) == before


@pytest.mark.parametrize("loss", LOSSES)
def test_n_partial_fit_calls_are_fit_with_max_iter_n(loss):
    X, y = _data(loss, 2, seed=13)
    params = dict(
        loss=loss,
        hidden_layer_sizes=(6,),
        solver="nag",
        learning_rate_init=0.05,
        random_state=0,
        n_iter_no_change=np.inf,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = SoftplusMLPRegressor(max_iter=15, **params).fit(X, y)
    partial = SoftplusMLPRegressor(**params)
    for _ in range(15):
        partial.partial_fit(X, y)
    for a, b in zip(
        fitted.coefs_ + fitted.intercepts_, partial.coefs_ + partial.intercepts_
    ):
        assert_array_equal(a, b)
    assert partial.loss_curve_ == fitted.loss_curve_


def test_a_diverging_fit_leaves_the_fitted_model_as_it_was():
    X, y = _data("squared_error", 1, seed=14)
    model = SoftplusMLPRegressor(hidden_layer_sizes=(5,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    before = [array.copy() for array in model.coefs_ + model.intercepts_]
    prediction = model.predict(X)
    model.set_params(solver="gd", learning_rate_init=1e6)
    with pytest.raises(DivergenceError, match="Training diverged"):
        model.fit(X * 1e3, y * 1e3)
    for array, saved in zip(model.coefs_ + model.intercepts_, before):
        assert_array_equal(array, saved)
    assert_array_equal(model.predict(X), prediction)


@pytest.mark.parametrize("loss", LOSSES)
def test_joblib_round_trip_predicts_the_same(loss, tmp_path):
    X, y = _data(loss, 2)
    model = SoftplusMLPRegressor(loss=loss, hidden_layer_sizes=(4,), max_iter=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    assert_array_equal(loaded.predict(X), model.predict(X))
    # And it goes on training exactly as the original does.
    assert_array_equal(
        loaded.partial_fit(X, y).predict(X), model.partial_fit(X, y).predict(X)
    )


# ----------------------------------------------------------------------
# scikit-learn's MLPRegressor tests (test_mlp.py), adapted


def test_lbfgs_regression():
    # test_lbfgs_regression: softplus takes the place of its nonlinear
    # activations, for which it asks a training R² above 0.98. Softplus
    # needs more iterations for it than they do: 0.94 at scikit-learn's
    # max_iter=200 (its logistic units 0.995 in 142), 0.993 at 500, 0.9993
    # in 848 (2026-12-06).
    model = SoftplusMLPRegressor(
        solver="lbfgs", hidden_layer_sizes=50, max_iter=500, tol=1e-3, random_state=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_REG, Y_REG)
    assert model.score(X_REG, Y_REG) > 0.98


def test_multioutput_regression():
    # test_multioutput_regression.
    X, y = make_regression(n_samples=200, n_targets=5, random_state=11)
    model = SoftplusMLPRegressor(
        solver="lbfgs", hidden_layer_sizes=50, max_iter=200, tol=1e-2, random_state=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    assert model.score(X, y) > 0.9


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_partial_fit_regression(momentum):
    # test_partial_fit_regression: sgd on the full batch with a constant
    # momentum is NAG with that momentum here (momentum 0: steepest
    # descent); 100 partial_fit calls give fit's predictions.
    params = dict(
        solver="nag",
        learning_rate_init=0.01,
        random_state=1,
        momentum=momentum,
        restart=None,
        n_iter_no_change=np.inf,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = SoftplusMLPRegressor(max_iter=100, **params).fit(X_REG, Y_REG)
    partial = SoftplusMLPRegressor(**params)
    for _ in range(100):
        partial.partial_fit(X_REG, Y_REG)
    assert_allclose(fitted.predict(X_REG), partial.predict(X_REG))
    # scikit-learn asks 0.65 of its relu units; on these 100 steps its
    # logistic ones reach 0.08, its tanh ones 0.80, and softplus 0.642 with
    # momentum 0 (2026-12-06): the bound is the activation's, not the
    # solver's.
    assert partial.score(X_REG, Y_REG) > 0.6


def test_mlp_regressor_dtypes_casting():
    # test_mlp_regressor_dtypes_casting.
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(
        alpha=1e-5,
        hidden_layer_sizes=(5, 3),
        random_state=1,
        max_iter=150,
        tol=1e-3,
        learning_rate_init=0.01,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model_64 = SoftplusMLPRegressor(**params).fit(X[:300], y[:300])
        model_32 = SoftplusMLPRegressor(**params).fit(
            X[:300].astype(np.float32), y[:300]
        )
    pred_64 = model_64.predict(X[300:])
    pred_32 = model_32.predict(X[300:].astype(np.float32))
    # scikit-learn's rtol, and an atol for the predictions near 0 (one of
    # them, 0.0072, is 7e-6 apart in float32).
    assert_allclose(pred_64, pred_32, rtol=5e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_param_dtypes(dtype):
    # test_mlp_param_dtypes: the input's dtype is the parameters' and the
    # predictions'.
    X, y = load_digits(return_X_y=True)
    X = X.astype(dtype)
    model = SoftplusMLPRegressor(
        alpha=1e-5, hidden_layer_sizes=(5, 3), random_state=1, max_iter=50, tol=1e-1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X[:300], y[:300])
    assert all(coef.dtype == dtype for coef in model.coefs_)
    assert all(intercept.dtype == dtype for intercept in model.intercepts_)
    assert model.predict(X[300:]).dtype == dtype


def test_mlp_loading_from_joblib_partial_fit(tmp_path):
    # test_mlp_loading_from_joblib_partial_fit (scikit-learn #19626).
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(42,), random_state=42, learning_rate_init=0.01
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit([[2]], [4])
    joblib.dump(model, tmp_path / "mlp.pkl")
    loaded = joblib.load(tmp_path / "mlp.pkl")
    for _ in range(200):
        loaded.partial_fit([[2]], [1])
    assert_allclose(loaded.predict([[2]]), [1], rtol=1e-4)


def test_mlp_sample_weight_with_early_stopping():
    # test_mlp_sample_weight_with_early_stopping: weights of 1 are no
    # weights, on the inner validation split too. Its rate of 0.01 is Adam's;
    # as NAG's fixed step on these unscaled targets (about 100) it is at the
    # edge of stability (2 of 3 seeds diverge), so half of it.
    X, y = make_regression(
        n_samples=100, n_features=2, n_informative=2, random_state=42
    )
    params = dict(
        hidden_layer_sizes=10,
        early_stopping=True,
        tol=1e-2,
        learning_rate_init=0.005,
        batch_size=10,
        random_state=42,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = SoftplusMLPRegressor(**params).fit(X, y, sample_weight=np.ones(100))
        plain = SoftplusMLPRegressor(**params).fit(X, y)
    assert_allclose(weighted.predict(X), plain.predict(X))


def test_mlp_vs_poisson_glm_equivalent():
    # test_mlp_vs_poisson_glm_equivalent: here with no hidden layer at all
    # (MLPRegressor needs a unit of identity activation for it).
    rng = np.random.default_rng(0)
    X = np.linspace(0, 1, 100)
    y = rng.poisson(np.exp(X + 1))
    X = X.reshape(100, -1)
    glm = PoissonRegressor(alpha=0, tol=1e-7).fit(X, y)
    model = SoftplusMLPRegressor(
        loss="poisson", hidden_layer_sizes=(), alpha=0, solver="lbfgs", tol=1e-7
    ).fit(X, y)
    assert_allclose(model.predict(X), glm.predict(X), rtol=1e-4)
    squared = SoftplusMLPRegressor(
        hidden_layer_sizes=(), alpha=0, solver="lbfgs", tol=1e-7
    ).fit(X, y)
    assert not np.allclose(squared.predict(X), glm.predict(X), rtol=1e-4)


def test_minimum_input_sample_size():
    # test_minimum_input_sample_size.
    X, y = make_regression(n_samples=2, n_features=5, random_state=0)
    model = SoftplusMLPRegressor(early_stopping=True, random_state=0)
    with pytest.raises(ValueError, match="The validation set is too small"):
        model.fit(X, y)


def test_gd_safeguard_keeps_the_poisson_deviance_from_running_away(monkeypatch):
    # scikit-learn's check_n_features_in data: inputs around 100, unscaled.
    # GD's adaptive step steps into the exponential's steep side; without
    # the safeguard the loss runs away to a DivergenceError, with it no
    # loss is more than 1.1 times the best before it.
    rng = np.random.RandomState(0)
    X = rng.normal(loc=100, size=(100, 2))
    y = rng.normal(size=100)
    y += 1 + abs(y.min())
    model = SoftplusMLPRegressor(loss="poisson", solver="gd", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    assert model._solver.n_retakes > 0
    best = np.minimum.accumulate(model.loss_curve_)
    assert np.all(np.asarray(model.loss_curve_[1:]) <= 1.1 * best[:-1] + 1e-10)
    monkeypatch.setattr(first_order, "RUNAWAY_FACTOR", np.inf)
    with pytest.raises(DivergenceError):
        SoftplusMLPRegressor(loss="poisson", solver="gd", random_state=0).fit(X, y)


# ----------------------------------------------------------------------
# Everything around the estimator: callbacks, plots, Ctrl-C


def test_each_epochs_model_handed_to_the_callbacks_is_the_fit_stopped_there():
    pytest.importorskip("sklearn.callback", reason="needs scikit-learn >= 1.9")
    from test_callbacks import Recorder

    X, y = _data("squared_error", 2, seed=15)
    params = dict(hidden_layer_sizes=(4,), random_state=0, tol=0.0)
    recorder = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        SoftplusMLPRegressor(max_iter=3, **params).set_callbacks(recorder).fit(X, y)
    assert len(recorder.epoch_models) == 3
    for n_epochs, model in enumerate(recorder.epoch_models, start=1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            expected = SoftplusMLPRegressor(max_iter=n_epochs, **params).fit(X, y)
        assert_array_equal(model.predict(X), expected.predict(X))


def test_score_curve_and_the_loss_curve_display_take_the_regressor():
    import matplotlib

    matplotlib.use("Agg")
    from skmlp import LossCurveDisplay, score_curve

    X, y = _data("squared_error", 1, seed=16, n_samples=80)
    X_test, y_test = _data("squared_error", 1, seed=17, n_samples=30)
    model = SoftplusMLPRegressor(hidden_layer_sizes=(4,), random_state=0)
    trained, scores = score_curve(model, X, y, X_test, y_test, max_iter=4)
    # The R² of fit(max_iter=n) on the held-out rows, epoch by epoch.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        expected = [
            model.set_params(max_iter=n).fit(X, y).score(X_test, y_test)
            for n in range(1, 5)
        ]
    assert_allclose(scores, expected, rtol=1e-12)
    display = LossCurveDisplay.from_estimator(
        trained, scores=scores, score_name="held-out R²"
    )
    assert_allclose(display.loss_curve, trained.loss_curve_)
    assert_allclose(display.scores, scores)
    # With early stopping the display draws validation_scores_, a
    # regressor's R² (it was labelled "validation accuracy").
    stopped = SoftplusMLPRegressor(
        hidden_layer_sizes=(4,), early_stopping=True, max_iter=10, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stopped.fit(X, y)
    display = LossCurveDisplay.from_estimator(stopped)
    assert_allclose(display.scores, stopped.validation_scores_)
    assert display.score_line_.get_label() == "SoftplusMLPRegressor: validation R²"
    assert display.score_ax_.get_ylabel() == "Validation R²"


def test_a_ctrl_c_on_any_line_leaves_a_regressor_of_a_finished_epoch():
    # The classifier's test (test_training.py) for the regressor's fit: a
    # Ctrl-C before each line leaves the estimator as it was or the model
    # of fit(max_iter=n).
    from test_training import LineCounter, _assert_same_model, _the_loops_modules

    X, y = _data("poisson", 2, seed=18, n_samples=40)
    params = dict(loss="poisson", hidden_layer_sizes=(3,), random_state=0, tol=0.0)

    def fit(n_epochs, model=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return (model or SoftplusMLPRegressor(max_iter=n_epochs, **params)).fit(
                X, y
            )

    references = {n: fit(n) for n in range(1, 4)}
    counter = LineCounter(_the_loops_modules())
    with counter():
        fit(3)
    outcomes = set()
    for line in range(1, counter.count + 1):
        model = SoftplusMLPRegressor(max_iter=3, **params)
        try:
            with LineCounter(_the_loops_modules(), interrupt_at=line)():
                fit(3, model)
        except KeyboardInterrupt:
            pass
        if not hasattr(model, "coefs_"):
            outcomes.add(0)
            continue
        _assert_same_model(model, references[model.n_iter_])
        outcomes.add(model.n_iter_)
    assert outcomes == {0, 1, 2, 3}


def test_a_divergence_of_the_squared_error_advises_scaling_the_targets():
    X, y = _data("squared_error", 1, seed=19)
    with pytest.raises(DivergenceError, match="scale them too"):
        SoftplusMLPRegressor(max_iter=5).fit(X, y * 1e200)


def test_a_search_that_finds_no_step_on_huge_targets_advises_scaling_them():
    # With targets of 1e150 the squared error's curvature is beyond every
    # step the backtracking search tries: its error says what a divergence
    # says of the targets, and the fitted model is left as it was.
    X, y = _data("squared_error", 1, seed=19)
    model = SoftplusMLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    before = joblib.hash(model)
    message = "found no step that decreases the objective.*scale them too"
    with pytest.raises(ValueError, match=message):
        model.fit(X, y * 1e150)
    assert joblib.hash(model) == before


@pytest.mark.parametrize("loss", LOSSES)
def test_outputs_that_overflow_to_inf_are_refused_not_predicted(loss):
    # A Poisson mean of exp(710) or an identity output past the float
    # range is inf: predict raises OutputOverflow as the classifier does,
    # instead of returning it.
    X, y = _data(loss, 1)
    model = SoftplusMLPRegressor(
        loss=loss, hidden_layer_sizes=(5,), max_iter=20, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    assert np.isfinite(model.predict(X)).all()
    # Outputs of +inf, no NaN (which was caught already): positive hidden
    # units times output weights past the range, or a log-mean past 709.
    if loss == "poisson":
        model.intercepts_[-1] += 1000.0
    else:
        model.coefs_[-1] = np.abs(model.coefs_[-1]) * 1e308
    with pytest.raises(ValueError, match="overflowed .* largest absolute value"):
        model.predict(X[:3])
    with pytest.raises(ValueError, match="overflowed"):
        model.score(X[:3], y[:3])


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_early_stopping_on_outputs_that_overflow_to_inf_is_a_divergence(solver):
    # With a step of 10, the Poisson weights run past exp's range; the
    # held-out predictions became inf and r2_score raised its own
    # "Input contains infinity" instead of the documented DivergenceError.
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    y = rng.poisson(np.exp(X[:, 0]))
    model = SoftplusMLPRegressor(
        loss="poisson", hidden_layer_sizes=(8,), max_iter=20, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    before = [array.copy() for array in model.coefs_ + model.intercepts_]
    model.set_params(solver=solver, early_stopping=True, learning_rate_init=10.0)
    with pytest.raises(DivergenceError, match="overflowed .* validation rows"):
        model.fit(X, y)
    for array, saved in zip(model.coefs_ + model.intercepts_, before):
        assert_array_equal(array, saved)


def test_targets_past_float32s_range_are_refused_for_float32_x():
    # The objective takes the targets in X's dtype: cast to float32, 5e38
    # became inf with NumPy's overflow warning (an error here, as the
    # suite turns warnings into errors), and the divergence rule blamed
    # the training.
    X, y = _data("squared_error", 1)
    huge = y * 1e38 / np.abs(y).max() * 5
    model = SoftplusMLPRegressor(hidden_layer_sizes=(3,), max_iter=2)
    with pytest.raises(ValueError, match=r"too large for dtype\('float32'\)"):
        model.fit(X.astype(np.float32), huge)
    with pytest.raises(ValueError, match=r"y_val contains a value too large"):
        model.set_params(early_stopping=True).fit(
            X.astype(np.float32), y, X_val=X, y_val=huge
        )
    # At the edge of the range, and in float64, they are taken.
    edge = np.full(len(y), np.finfo(np.float32).max, dtype=np.float64)
    from skmlp._validation import numeric_targets

    assert numeric_targets(edge, "y", np.float32).max() == edge.max()
    assert numeric_targets(huge, "y", np.float64).shape == (len(y), 1)


def test_integer_weights_are_repeated_rows_for_a_poisson_output_without_events():
    # The all-zero output starts at half an event among the rows the
    # weights stand for: it counted the rows of positive weight, so that
    # weights of 2 started elsewhere than the rows repeated twice, and the
    # shared hidden layer moved the other output's predictions by 0.3.
    rng = np.random.RandomState(0)
    X = rng.randn(30, 3)
    y = np.c_[rng.poisson(np.exp(0.5 * X[:, 0])), np.zeros(30)]
    weight = rng.randint(1, 4, 30)
    params = dict(
        loss="poisson", hidden_layer_sizes=(4,), solver="lbfgs", max_iter=10,
        random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = SoftplusMLPRegressor(**params).fit(X, y, sample_weight=weight)
        repeated = SoftplusMLPRegressor(**params).fit(
            np.repeat(X, weight, axis=0), np.repeat(y, weight, axis=0)
        )
    assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-9, atol=1e-12)


def test_a_row_of_weight_0_is_as_good_as_absent_whatever_its_target():
    # The square of 1e200 is inf, and inf times the weight 0 was NaN: the
    # loss was NaN and the fit a DivergenceError blaming the targets.
    X, y = _data("squared_error", 1)
    y = y.copy()
    y[0] = 1e200
    weight = np.ones(len(y))
    weight[0] = 0.0
    for solver in ("gd", "nag", "lbfgs"):
        params = dict(
            solver=solver, hidden_layer_sizes=(4,), max_iter=10, random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            weighted = SoftplusMLPRegressor(**params).fit(X, y, sample_weight=weight)
            dropped = SoftplusMLPRegressor(**params).fit(X[1:], y[1:])
        assert_allclose(weighted.predict(X), dropped.predict(X), rtol=1e-9, atol=1e-12)
    # Validation rows of weight 0 too: the R² of the others.
    model = SoftplusMLPRegressor(early_stopping=True, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(
            X[1:], y[1:], X_val=X[:20], y_val=y[:20], sample_weight_val=weight[:20]
        )
    assert np.isfinite(model.validation_scores_).all()
    # The kept model is the best epoch's, scored on the rows of weight 1.
    assert model.best_validation_score_ == pytest.approx(
        model.score(X[1:20], y[1:20]), rel=1e-12
    )


def _ill_conditioned_ridge_problem():
    # Feature scales of 0.3 to 10: curvatures that differ by 1e3.
    rng = np.random.RandomState(0)
    X = rng.randn(300, 4) * [1, 3, 0.3, 10]
    y = X @ [1.0, 0.5, 2.0, 0.1] + 0.2 * rng.randn(300)
    return X, y


def test_nag_at_a_tight_tol_reaches_ridge_through_the_ripples_of_its_loss():
    # FISTA's momentum carried the loss uphill for a score of epochs before
    # the gradient restart saw it; the no-improvement rule stopped there and
    # kept a model 5% of the loss above the optimum (coefficients 0.16 off
    # Ridge's), worse at tol=1e-10 than at tol=1e-4. A loss carried above
    # its best now restarts the momentum instead of stopping the run.
    X, y = _ill_conditioned_ridge_problem()
    ridge = Ridge(alpha=1e-4).fit(X, y)
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(), tol=1e-10, max_iter=5000, random_state=0
    ).fit(X, y)
    assert model.n_iter_ < 5000
    assert_allclose(model.coefs_[0].ravel(), ridge.coef_, atol=1e-3)
    assert model.intercepts_[0][0] == pytest.approx(ridge.intercept_, abs=1e-3)
    # It stopped where the loss no longer moves, not on a rise.
    assert model.loss_curve_[-1] <= min(model.loss_curve_) + 1e-10


def test_a_rise_is_no_convergence_though_the_gradient_restart_just_fired():
    # At n_iter_no_change=1 the gradient restart dropped the momentum in the
    # epoch where the rule fired on a rise; with no momentum left to
    # restart, the rule stopped there, 7% above its best loss and 96 times
    # the optimum's loss above it.
    rng = np.random.RandomState(9)
    X = rng.randn(200, 10) * np.logspace(0, 1.5, 10)
    y = X @ rng.randn(10) + 0.1 * rng.randn(200)
    ridge = Ridge(alpha=1e-4).fit(X, y)
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(),
        tol=1e-10,
        n_iter_no_change=1,
        max_iter=3000,
        random_state=9,
    ).fit(X, y)
    assert model.n_iter_ < 3000
    assert model.loss_curve_[-1] <= min(model.loss_curve_) + 1e-10
    assert_allclose(model.coefs_[0].ravel(), ridge.coef_, atol=1e-3)


def test_exact_fits_at_tol_0_stop_at_the_rounding_of_a_loss_near_0():
    # Noiseless targets fitted exactly: the loss jitters at 1e-31, its own
    # size, far above sqrt(eps) of it; at tol=0 that counted as a rise, and
    # the run restarted every 27 epochs up to max_iter, then warned (an
    # error in this suite).
    rng = np.random.RandomState(0)
    X = rng.randn(100, 3)
    y = X @ [1.0, -2.0, 0.5] + 3.0
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(), alpha=0.0, tol=0.0, max_iter=3000, random_state=0
    ).fit(X, y)
    assert model.n_iter_ < 100
    assert model.loss_ < 1e-25


def test_the_momentum_restart_of_the_stopping_rule_is_that_of_partial_fit_too():
    # The restart is part of the epoch, so N partial_fit calls still equal
    # fit(max_iter=N) to the bit past it.
    X, y = _ill_conditioned_ridge_problem()
    params = dict(hidden_layer_sizes=(), tol=1e-10, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        fitted = SoftplusMLPRegressor(max_iter=250, **params).fit(X, y)
    assert fitted._solver.n_restarts == 1
    calls = SoftplusMLPRegressor(**params)
    for _ in range(250):
        calls.partial_fit(X, y)
    assert_array_equal(calls.coefs_[0], fitted.coefs_[0])
    assert calls.loss_curve_ == fitted.loss_curve_


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_a_rule_stopping_at_the_chance_level_warns_of_targets_below_tol(solver):
    # Targets of 1e-6: the loss of their mean is 3e-12, the starting
    # weights' outputs put the first loss near 0.2, and the rule (tol=1e-4,
    # in the loss's units) stopped at 1e-4, an R^2 of -5e7, silently.
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    y = X @ [1.0, 2.0, -1.0] + 0.1 * rng.randn(200)
    model = SoftplusMLPRegressor(solver=solver, random_state=0)
    with pytest.warns(ConvergenceWarning, match="learned nothing") as record:
        model.fit(X, y * 1e-6)
    message = str(record[0].message)
    assert "below tol" in message and "lower tol" in message
    assert "solver='nag'" not in message
    assert model.n_iter_ < model.max_iter
    assert model.score(X, y * 1e-6) < 0
    # At unit scale the rule stops a sound fit, without a warning (an
    # error in this suite), and so it does on noise it cannot learn from.
    assert model.fit(X, y).score(X, y) > 0.99
    model.fit(X, rng.randn(200))


@pytest.mark.parametrize("early_stopping", [False, True])
def test_the_chance_level_warning_names_a_fixed_step_too_small(early_stopping):
    # A step of 1e-6 left the fit at the mean's level (the adaptive step
    # reaches a training R^2 of 0.96): the warning named every cause but the
    # step set by hand.
    rng = np.random.RandomState(0)
    X = rng.randn(300, 4)
    y = X[:, 0] + np.sin(X[:, 1]) + 0.1 * rng.randn(300)
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(10,),
        solver="gd",
        learning_rate_init=1e-6,
        early_stopping=early_stopping,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="learned nothing") as record:
        model.fit(X, y)
    (message,) = [str(w.message) for w in record]
    assert "learning_rate_init=1e-06 is too small to move the weights" in message
    assert "raise learning_rate_init (or take 'auto')" in message
    # With the adaptive step, no warning (an error in this suite).
    assert model.set_params(learning_rate_init="auto").fit(X, y).score(X, y) > 0.9
    # L-BFGS does not use the step: it is not named, set or not (here the
    # validation score, not its own test, ends the run).
    noise = rng.randn(300)
    model.set_params(
        solver="lbfgs", alpha=100.0, early_stopping=True, n_iter_no_change=1, tol=0.0
    )
    with pytest.warns(ConvergenceWarning, match="learned nothing") as record:
        model.set_params(learning_rate_init=1e-6).fit(X, noise)
    assert "learning_rate_init" not in str(record[0].message)
    assert "validation score stopped improving" in str(record[0].message)


@pytest.mark.parametrize("solver", ["nag", "lbfgs"])
def test_the_chance_level_warning_sees_a_datafit_below_the_penaltys_rounding(solver):
    # Poisson rates of 1e-24 (1e-100 for NAG): the datafit's loss, about
    # 1e-24, was taken as the objective minus the penalty, about 5e-7 at the
    # default alpha, whose rounding is 1e-22. The difference was 0 or that
    # rounding: L-BFGS stopped at R^2 -0.51 and NAG at R^2 0 without a word
    # (with alpha=0 the same fits warned).
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    rates = rng.poisson(20 * np.exp(0.8 * X[:, 0])) / 20
    scale = 1e-24 if solver == "lbfgs" else 1e-100
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(8,),
        solver=solver,
        loss="poisson",
        max_iter=100,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="learned nothing") as record:
        model.fit(X, rates * scale)
    assert model.score(X, rates * scale) <= 0.0
    # The loss it names is the datafit's at the point kept, not a rounding
    # of the penalty.
    (message,) = [str(w.message) for w in record]
    named = float(message.split("at a loss of ")[1].split(" ")[0])
    raw = model.predict(X) / scale
    # Poisson's half deviance without its constant: mean(mu - y log mu),
    # with y and mu in units of the scale.
    expected = np.mean(raw - rates * np.log(raw * scale)) * scale
    assert named == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("solver", ["gd", "lbfgs"])
def test_the_chance_level_warning_of_early_stopping_names_the_epoch_kept(solver):
    # Early stopping keeps the best epoch by the validation score: the
    # warning said that the loss had improved by less than tol (it was
    # falling by 0.15 an epoch there), or that L-BFGS converged at the kept
    # epoch's loss (it converged elsewhere).
    # Inputs of zeros predict nothing (on noise the penalised fits learned
    # a training R^2 of 0.002, no longer taken for nothing since the
    # warning leaves the penalty out of the loss it judges).
    rng = np.random.RandomState(0)
    X, y = np.zeros((200, 3)), rng.randn(200)
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(4,),
        solver=solver,
        alpha=100.0,
        early_stopping=True,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="learned nothing") as record:
        model.fit(X[:180], y[:180], X_val=X[180:], y_val=y[180:])
    (message,) = [str(w.message) for w in record]
    kept = 1 + int(np.argmax(model.validation_scores_))
    assert kept < model.n_iter_
    assert message.startswith(f"Early stopping kept iteration {kept}, the best")
    assert "(the penalty left out)" in message and "lower alpha" in message
    if solver == "gd":
        assert "tol=" not in message and "converged" not in message
        assert message.endswith("or raise n_iter_no_change.")
    else:
        # L-BFGS's own test ended the run, not the validation score: it is
        # named, and n_iter_no_change, which changed nothing, is not.
        assert f"LBFGS stopped at iteration {model.n_iter_} by its own test" in message
        assert "n_iter_no_change" not in message
        n_iter = model.n_iter_
        with pytest.warns(ConvergenceWarning, match="its own test"):
            model.set_params(n_iter_no_change=100).fit(
                X[:180], y[:180], X_val=X[180:], y_val=y[180:]
            )
        assert model.n_iter_ == n_iter


def test_early_stopping_judges_the_epoch_kept_not_the_last_against_the_mean():
    # Validation targets that the inputs do not predict: the best epoch by
    # their score is the first, at the training rows' mean level (R^2
    # -0.007), while the last epoch's training loss is far below it. The
    # test looked at the last loss, and said nothing.
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.randn(200)
    X_val, y_val = rng.randn(40, 3), rng.randn(40)
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(8,), early_stopping=True, random_state=7
    )
    with pytest.warns(ConvergenceWarning, match="kept iteration 1, the best"):
        model.fit(X, y, X_val=X_val, y_val=y_val)
    assert model.score(X, y) < 0
    # On validation rows that the inputs do predict, no warning (an error
    # in this suite).
    model.fit(X[:160], y[:160], X_val=X[160:], y_val=y[160:])


@pytest.mark.parametrize("dtype, tol", [(np.float64, 0.0), (np.float32, 1e-12)])
def test_rounding_at_the_optimum_is_no_rise_that_restarts_the_momentum(dtype, tol):
    # At tol=0 a converged fit's losses differ by ulps (8.7e-19 above the
    # best): taken for a rise, they restarted the momentum every
    # n_iter_no_change epochs up to max_iter, which warned of no convergence.
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.randn(200)
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(), tol=tol, max_iter=3000, random_state=0
    ).fit(X.astype(dtype), y.astype(dtype))
    assert model.n_iter_ < 100


def test_verbose_says_where_the_stopping_rule_restarted_the_momentum(capsys):
    X, y = _ill_conditioned_ridge_problem()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        SoftplusMLPRegressor(
            hidden_layer_sizes=(), tol=1e-10, max_iter=200, random_state=0, verbose=True
        ).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    restart = (
        "Training loss rose above its best by more than tol=1e-10: momentum restarted."
    )
    (at,) = [i for i, line in enumerate(lines) if line == restart]
    assert lines[at - 1].startswith("Iteration 153, loss = ")


@pytest.mark.parametrize("alpha", [1e-4, 0.0])
def test_an_lbfgs_gradient_overflow_of_large_counts_advises_to_divide_them(alpha):
    # Poisson means of 1e20 on standardised float32 inputs: the gradient's
    # square overflows float32. The message told to scale the inputs, or
    # to lower alpha (even at 0), and said nothing of the counts.
    from sklearn.compose import TransformedTargetRegressor

    rng = np.random.RandomState(0)
    X = rng.randn(60, 3).astype(np.float32)
    y = np.exp(X @ [0.5, 0.3, -0.2]) * 1e20
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(5,),
        loss="poisson",
        solver="lbfgs",
        alpha=alpha,
        max_iter=30,
        random_state=0,
    )
    with pytest.raises(DivergenceError, match="Counts of a large scale") as error:
        model.fit(X, y)
    assert ("lower alpha" in str(error.value)) == (alpha > 0)
    # What it advises fits.
    scaled = TransformedTargetRegressor(
        model, func=lambda y: y / 1e20, inverse_func=lambda y: y * 1e20
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert scaled.fit(X, y).score(X, y) > 0.9


def test_validation_targets_constant_where_the_training_targets_vary_are_refused():
    # R^2 is not defined on constant targets: every epoch scored 0 (or
    # rounding noise of 1e31 on a second output), and early stopping kept
    # the first epoch, at a training R^2 of -0.95, with a warning that
    # blamed the training.
    X, y = make_regression(300, 3, noise=1, random_state=0)
    y = y / 100
    model = SoftplusMLPRegressor(
        hidden_layer_sizes=(8,), early_stopping=True, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, X_val=X[:20], y_val=y[:20])
    before = joblib.hash(model)
    message = "The validation targets are constant (on their rows of positive weight)"
    with pytest.raises(ValueError, match=re.escape(message)):
        model.fit(X, y, X_val=X[:20], y_val=np.full(20, 0.5))
    assert joblib.hash(model) == before
    Y = np.c_[y, -y]
    Y_val = Y[:20].copy()
    Y_val[:, 1] = 0.3
    with pytest.raises(ValueError, match=re.escape("constant in output(s) [1]")):
        model.fit(X, Y, X_val=X[:20], y_val=Y_val)
    # Constant on the rows that weigh: the others do not count.
    weight_val = np.r_[1.0, 1.0, np.zeros(18)]
    same = np.r_[0.5, 0.5, y[2:20]]
    with pytest.raises(ValueError, match="The validation targets are constant"):
        model.fit(X, y, X_val=X[:20], y_val=same, sample_weight_val=weight_val)
    # An output constant in both parts has nothing to learn: it fits.
    Y[:, 1] = 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, Y, X_val=X[:20], y_val=Y[:20])
    assert model.n_iter_ > 1


@pytest.mark.parametrize("solver", ["nag", "lbfgs"])
def test_the_chance_level_warning_judges_each_of_several_outputs(solver):
    # The total averages the outputs' losses. An output of scale 1e4 that
    # the inputs cannot predict (a factor of the design that X does not
    # hold) hid one predicted exactly: R^2 0 and 1, told that it had
    # learned nothing.
    import itertools

    factors = np.tile(np.array(list(itertools.product([-1.0, 1.0], repeat=4))), (20, 1))
    X = factors[:, :3]
    Y = np.c_[1e4 * factors[:, 3], factors[:, 0] + factors[:, 1] - factors[:, 2]]
    model = SoftplusMLPRegressor(hidden_layer_sizes=(), solver=solver, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, Y)
    assert_allclose(
        r2_score(Y, model.predict(X), multioutput="raw_values"), [0, 1], atol=1e-6
    )
    # A Poisson output of zeros counts 0 in the chance level, which no
    # finite intercept reaches: it hid NAG's gain on the other output.
    rng = np.random.RandomState(0)
    X = rng.randn(300, 3)
    counts = np.c_[rng.poisson(np.exp(0.05 * X[:, 0])), np.zeros(300)]
    poisson = SoftplusMLPRegressor(
        hidden_layer_sizes=(), solver=solver, loss="poisson", random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        poisson.fit(X, counts)
    # Where no output learns, the warning is given, as for one output.
    with pytest.warns(ConvergenceWarning, match="learned nothing"):
        SoftplusMLPRegressor(hidden_layer_sizes=(), solver=solver, random_state=0).fit(
            np.zeros_like(X), np.c_[rng.randn(300), rng.randn(300)]
        )
