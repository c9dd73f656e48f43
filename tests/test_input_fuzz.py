"""Property-based tests over the inputs users feed: shapes, dtypes, values, containers.

Each generated case either raises a ValueError whose message names the
problem, or gives a model whose predict_proba is finite, sums to 1 per row and
has the right shape and dtype. Hypothesis runs derandomized with a fixed
example budget so that CI is repeatable.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from skmlp import SoftplusMLPClassifier

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Messages of the ValueErrors a valid-looking input may legitimately raise.
# (Casting 1e30 to float16 gives inf: that input is refused by name.)
DOCUMENTED_ERRORS = (
    "Training diverged",
    "sum of sample_weight must be positive",
    "Sample weights must contain at least one non-zero number",
    "Input X contains infinity",
)

LABEL_KINDS = {
    "int": lambda codes: codes,
    "bool": lambda codes: codes.astype(bool),
    "str": lambda codes: np.array([f"class-{c}" for c in codes]),
    "object": lambda codes: np.array([f"c{c}" for c in codes], dtype=object),
}


@st.composite
def classification_problems(draw):
    n_classes = draw(st.integers(2, 50) if draw(st.booleans()) else st.integers(2, 4))
    per_class = draw(st.integers(1, 3))
    n_samples = n_classes * per_class + draw(st.integers(0, 5))
    n_features = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)

    scale = draw(st.sampled_from([1.0, 1e-310, 1e-30, 1e3, 1e30, 1e300]))
    X = rng.standard_normal((n_samples, n_features)) * scale
    if draw(st.booleans()):
        X[:, 0] = 7.0  # a constant column
    if n_features > 1 and draw(st.booleans()):
        X[:, -1] = X[:, 0]  # a duplicate column
    dtype = draw(st.sampled_from(["float16", "float32", "float64", "int64"]))
    with np.errstate(over="ignore"):
        X = X.astype(dtype) if dtype != "int64" else np.round(X).clip(-1e6, 1e6)
    X = X.astype(dtype)

    codes = np.concatenate(
        [
            np.repeat(np.arange(n_classes), per_class),
            rng.randint(0, n_classes, n_samples - n_classes * per_class),
        ]
    )
    kind = draw(st.sampled_from(sorted(LABEL_KINDS)))
    if kind == "bool":
        codes = codes % 2
    y = LABEL_KINDS[kind](codes)

    layout = draw(st.sampled_from(["C", "F", "strided", "readonly"]))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        wide = np.zeros((n_samples, 2 * n_features), dtype=X.dtype)
        wide[:, ::2] = X
        X = wide[:, ::2]
    elif layout == "readonly":
        X.setflags(write=False)

    sample_weight = None
    if draw(st.booleans()):
        sample_weight = rng.randint(0, 3, n_samples).astype(float)
    return X, y, sample_weight


def _expected_proba_dtype(X):
    return np.float32 if X.dtype == np.float32 else np.float64


# What scikit-learn's own checks say of such inputs: numpy's warning as
# check_array tests [inf, -inf] for finiteness, and check_classification_targets'
# warning for as many classes as rows. Both come before skmlp's own error or
# fit; any other warning fails the test.
@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:The number of unique classes is greater than 50%")
@FUZZ
@given(problem=classification_problems(), solver=st.sampled_from(["gd", "nag"]))
def test_fit_either_raises_a_named_error_or_gives_valid_probabilities(problem, solver):
    X, y, sample_weight = problem
    clf = SoftplusMLPClassifier(
        hidden_layer_sizes=(3,),
        solver=solver,
        learning_rate_init=0.1,
        max_iter=15,
        random_state=0,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y, sample_weight=sample_weight)
    except ValueError as error:
        assert any(part in str(error) for part in DOCUMENTED_ERRORS), error
        assert not hasattr(clf, "coefs_")
        return
    proba = clf.predict_proba(X)
    assert proba.shape == (X.shape[0], len(np.unique(y)))
    assert proba.dtype == _expected_proba_dtype(X)
    assert np.isfinite(proba).all()
    tolerance = 1e-5 if proba.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=tolerance)
    predicted = clf.predict(X)
    assert set(predicted) <= set(np.asarray(y))
    assert all(np.isfinite(c).all() for c in clf.coefs_ + clf.intercepts_)


@FUZZ
@given(
    n_rows=st.integers(2, 30),
    names=st.lists(
        st.text("abcdefgh", min_size=1, max_size=4), min_size=1, max_size=5, unique=True
    ),
)
def test_dataframes_keep_feature_names_and_predict_like_arrays(n_rows, names):
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(n_rows)
    X = pd.DataFrame(rng.standard_normal((n_rows, len(names))), columns=names)
    y = np.arange(n_rows) % 2
    params = dict(
        hidden_layer_sizes=(4,), learning_rate_init=0.1, max_iter=5, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        from_frame = SoftplusMLPClassifier(**params).fit(X, y)
        from_array = SoftplusMLPClassifier(**params).fit(X.to_numpy(), y)
    assert list(from_frame.feature_names_in_) == names
    np.testing.assert_array_equal(
        from_frame.predict_proba(X), from_array.predict_proba(X.to_numpy())
    )
    with pytest.raises(ValueError, match="feature names"):
        from_frame.predict_proba(X.rename(columns={names[0]: names[0] + "z"}))


def test_zero_weights_everywhere_is_a_named_error():
    X = np.arange(8.0).reshape(4, 2)
    with pytest.raises(ValueError, match="(?i)sample.weight"):
        SoftplusMLPClassifier(random_state=0).fit(X, [0, 1, 0, 1], np.zeros(4))
