"""Softplus and its derivative: exact to a few ulp, no overflow, dtype kept."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal, assert_array_max_ulp
from scipy.special import expit

from skmlp._math.activations import softplus_inplace


def softplus(z):
    """Softplus of a copy of ``z``, in the floating dtype of ``z``."""
    activation = np.array(z, dtype=z.dtype if z.dtype.kind == "f" else np.float64)
    return softplus_inplace(activation, np.empty_like(activation))


def softplus_with_derivative(z):
    """Softplus of a copy of ``z`` and its derivative, from the same call."""
    activation = np.array(z, dtype=z.dtype if z.dtype.kind == "f" else np.float64)
    derivative = np.empty_like(activation)
    softplus_inplace(activation, np.empty_like(activation), derivative)
    return activation, derivative


DTYPES = [np.float32, np.float64]


def _grid(dtype):
    """|z| from 1e-10 to 1e4 on a log scale, a fine linear grid over the range
    where float32 and float64 exp overflow (~88, ~709) or go subnormal, and 0."""
    magnitudes = np.logspace(-10, 4, 2000)
    linear = np.linspace(-800.0, 800.0, 8001)
    return np.concatenate([-magnitudes[::-1], [0.0], magnitudes, linear]).astype(dtype)


def _reference(function, z):
    # Evaluated in extended precision and rounded once to z's dtype: scipy's
    # float32 expit flushes subnormal results to 0, which the function under
    # test (correctly) does not.
    return function(z.astype(np.longdouble)).astype(z.dtype)


def _logaddexp0(z):
    return np.logaddexp(np.zeros_like(z), z)


def _no_warnings_no_fp_errors(function, z):
    # Underflow of exp(-|z|) to 0 is the intended, exact behaviour for large
    # |z|; overflow, invalid operations and division by zero are not.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            return function(z)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_matches_logaddexp_to_4_ulp_up_to_1e4_without_warnings(dtype):
    z = _grid(dtype)
    activation = _no_warnings_no_fp_errors(softplus, z)
    assert activation.dtype == dtype
    assert np.isfinite(activation).all()
    assert_array_max_ulp(activation, _reference(_logaddexp0, z), maxulp=4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_with_derivative_matches_logaddexp_and_expit_to_4_ulp(dtype):
    z = _grid(dtype)
    activation, derivative = _no_warnings_no_fp_errors(softplus_with_derivative, z)
    assert activation.dtype == dtype
    assert derivative.dtype == dtype
    assert np.isfinite(activation).all() and np.isfinite(derivative).all()
    assert_array_max_ulp(activation, _reference(_logaddexp0, z), maxulp=4)
    assert_array_max_ulp(derivative, _reference(expit, z), maxulp=4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_with_derivative_activation_is_bitwise_softplus(dtype):
    z = _grid(dtype)
    activation, _ = softplus_with_derivative(z)
    assert_array_equal(activation, softplus(z))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_extreme_values_are_exact(dtype):
    z = np.array([-1e4, -1e3, 0.0, 1e3, 1e4], dtype=dtype)
    activation, derivative = softplus_with_derivative(z)
    assert_array_equal(activation, np.array([0.0, 0.0, np.log(2.0), 1e3, 1e4], dtype))
    assert_array_equal(derivative, np.array([0.0, 0.0, 0.5, 1.0, 1.0], dtype))
    assert_array_equal(softplus(z), activation)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_keeps_2d_shape_and_dtype(dtype):
    z = np.linspace(-5, 5, 12, dtype=dtype).reshape(3, 4)
    activation, derivative = softplus_with_derivative(z)
    assert activation.shape == derivative.shape == softplus(z).shape == (3, 4)
    assert softplus(z).dtype == dtype


def test_softplus_inplace_overwrites_and_returns_its_argument():
    z = np.linspace(-50, 50, 101)
    scratch = np.full_like(z, np.nan)
    expected = np.logaddexp(0.0, z)
    assert softplus_inplace(z, scratch) is z
    assert_allclose(z, expected, rtol=1e-15)


def test_derivative_equals_central_finite_difference_of_softplus():
    z = np.linspace(-30.0, 30.0, 601)
    h = 1e-5
    finite_difference = (softplus(z + h) - softplus(z - h)) / (2 * h)
    _, derivative = softplus_with_derivative(z)
    # Central differences: truncation error ~h^2 and rounding ~eps/h ~ 1e-11.
    assert_allclose(derivative, finite_difference, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 1e2, 1e4])
def test_predicted_log_probabilities_are_exact_log_softmax_at_extreme_logits(
    dtype, scale
):
    # Exact wherever the probability is a float above 0; -inf, the log of
    # predict_proba, where it underflows to 0 (scikit-learn's contract).
    # No hidden layer: the logits are X @ W + b, here up to |z| = scale.
    from skmlp import SoftplusMLPClassifier

    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (200, 3)).astype(dtype)
    y = np.arange(200) % 4
    clf = SoftplusMLPClassifier(hidden_layer_sizes=(), max_iter=1)
    clf.partial_fit(X, y, classes=np.arange(4))
    clf.coefs_ = [(rng.uniform(-1, 1, (3, 4)) * scale / 3).astype(dtype)]
    clf.intercepts_ = [np.zeros(4, dtype=dtype)]
    logits = X.astype(np.longdouble) @ clf.coefs_[0].astype(np.longdouble)
    shifted = logits - logits.max(axis=1, keepdims=True)
    reference = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        log_proba = clf.predict_log_proba(X)
        underflow = clf.predict_proba(X) == 0
    assert log_proba.dtype == dtype
    assert (log_proba[underflow] == -np.inf).all()
    assert np.isfinite(log_proba[~underflow]).all()
    # Only logits of 1e4 reach below the smallest float, and only there.
    assert underflow.any() == (scale == 1e4)
    smallest = np.log(np.finfo(dtype).smallest_subnormal)
    assert (reference[underflow] < smallest + 1).all()
    # Relative to the size of the logits: the rounding of z itself.
    eps = np.finfo(dtype).eps
    tolerance = 8 * eps * np.maximum(1.0, np.abs(logits).max(axis=1, keepdims=True))
    assert (np.abs(log_proba - reference) <= tolerance)[~underflow].all()
    np.testing.assert_allclose(
        np.exp(log_proba.astype(np.float64)).sum(axis=1), 1, rtol=10 * eps
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_at_nan_and_infinities_mixed_with_saturated_values(dtype):
    # An infinity or a value whose exp overflows sends softplus_inplace down
    # its clamping path, a NaN stays a NaN, and every other value must come
    # out as on the fast path.
    z = np.array([np.nan, np.inf, -np.inf, 40.0, 1e4, -1e4, 0.5, -0.5], dtype=dtype)
    with np.errstate(invalid="ignore"):
        activation, derivative = softplus_with_derivative(z)
        expected = np.logaddexp(dtype(0), z)
    assert activation.dtype == derivative.dtype == dtype
    assert np.isnan(activation[0]) and np.isnan(derivative[0])
    assert activation[1] == np.inf and derivative[1] == 1
    assert activation[2] == 0 and derivative[2] == 0
    np.testing.assert_allclose(
        activation[3:], expected[3:], rtol=4 * np.finfo(dtype).eps
    )
    np.testing.assert_allclose(
        derivative[3:], expit(z[3:].astype(np.float64)), rtol=4 * np.finfo(dtype).eps
    )
    np.testing.assert_array_equal(softplus(z), activation)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_where_exp_does_not_overflow_is_as_exact(dtype):
    # Where exp does not overflow, softplus is log1p(exp(z)) with no
    # clamping and no final maximum: up to about 709 in float64 and 88 in
    # float32, far above the saturation point (38.1, 18.0), past which it
    # must round to about z, and the sigmoid to 1.
    z = _grid(dtype)
    z = z[z <= np.log(np.finfo(dtype).max) - 1]
    activation, derivative = _no_warnings_no_fp_errors(softplus_with_derivative, z)
    assert_array_max_ulp(activation, _reference(_logaddexp0, z), maxulp=4)
    assert_array_max_ulp(derivative, _reference(expit, z), maxulp=4)
