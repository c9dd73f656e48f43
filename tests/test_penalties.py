"""The L2 penalty: its value and gradient against a hand computation and
finite differences, the intercepts left out, and its scale as the objective
uses it (divided by the sum of the sample weights)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skmlp._evaluation.objective import Objective
from skmlp._math.layout import ParameterLayout
from skmlp._math.penalties import L2

LAYER_SIZES = (3, 4, 2)


def _theta(layout, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).normal(size=layout.n_params).astype(dtype)


def test_value_and_gradient_by_hand():
    # 2 -> 1 -> 1: theta = (W0 (2), b0 (1), W1 (1), b1 (1)). The intercepts
    # 10 and 100 must not count: alpha / 2 * (1 + 4 + 9) = 0.5 * 14 * alpha.
    layout = ParameterLayout((2, 1, 1))
    theta = np.array([1.0, -2.0, 10.0, 3.0, 100.0])
    value, gradient = L2(layout, alpha=0.5).value_and_gradient(theta)
    assert value == pytest.approx(0.25 * 14)
    assert_array_equal(gradient, [0.5, -1.0, 0.0, 1.5, 0.0])
    # The scale multiplies both.
    value, gradient = L2(layout, alpha=0.5).value_and_gradient(theta, 0.1)
    assert value == pytest.approx(0.025 * 14)
    assert_allclose(gradient, [0.05, -0.1, 0.0, 0.15, 0.0])


def test_value_is_half_alpha_times_the_weights_squared_norm():
    # An independent computation from the layout's own views of the weights.
    layout = ParameterLayout(LAYER_SIZES)
    theta = _theta(layout)
    coefs, intercepts = layout.unpack(theta)
    expected = 0.5 * 0.3 * sum(np.sum(coef**2) for coef in coefs)
    value, gradient = L2(layout, 0.3).value_and_gradient(theta, 1.0)
    assert value == pytest.approx(expected, rel=1e-14)
    grad_coefs, grad_intercepts = layout.unpack(gradient)
    for grad_coef, coef in zip(grad_coefs, coefs):
        assert_allclose(grad_coef, 0.3 * coef, rtol=1e-15)
    for grad_intercept in grad_intercepts:
        assert_array_equal(grad_intercept, 0.0)


@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_gradient_matches_central_finite_differences(scale):
    layout = ParameterLayout(LAYER_SIZES)
    theta = _theta(layout, seed=1)
    penalty = L2(layout, alpha=0.7)
    _, gradient = penalty.value_and_gradient(theta, scale)
    h = 1e-5
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = h
        plus, _ = penalty.value_and_gradient(theta + step, scale)
        minus, _ = penalty.value_and_gradient(theta - step, scale)
        numeric[i] = (plus - minus) / (2 * h)
    # A quadratic: central differences are exact but for rounding.
    assert_allclose(gradient, numeric, rtol=1e-7, atol=1e-9)


def test_alpha_zero_is_no_penalty():
    layout = ParameterLayout(LAYER_SIZES)
    theta = _theta(layout)
    value, gradient = L2(layout, 0.0).value_and_gradient(theta, 3.0)
    assert value == 0.0
    assert_array_equal(gradient, 0.0)


def test_float32_theta_gives_a_float32_gradient():
    layout = ParameterLayout(LAYER_SIZES)
    theta64 = _theta(layout)
    theta32 = theta64.astype(np.float32)
    penalty = L2(layout, 0.3)
    value64, gradient64 = penalty.value_and_gradient(theta64, 0.5)
    # The same penalty object then sees float32: its factors follow the dtype.
    value32, gradient32 = penalty.value_and_gradient(theta32, 0.5)
    assert gradient32.dtype == np.float32
    assert_allclose(gradient32, gradient64, rtol=1e-6)
    assert value32 == pytest.approx(value64, rel=1e-6)


def test_a_new_scale_is_not_served_from_the_previous_one():
    # The factors are kept between calls of one scale: another scale, and
    # then the first again, must each give their own penalty.
    layout = ParameterLayout(LAYER_SIZES)
    theta = _theta(layout)
    penalty = L2(layout, 0.3)
    value1, gradient1 = penalty.value_and_gradient(theta, 1.0)
    value2, gradient2 = penalty.value_and_gradient(theta, 2.0)
    again, gradient_again = penalty.value_and_gradient(theta, 1.0)
    assert value2 == pytest.approx(2 * value1, rel=1e-15)
    assert_allclose(gradient2, 2 * gradient1, rtol=1e-15)
    assert again == value1
    assert_array_equal(gradient_again, gradient1)


def test_gradient_is_a_new_vector():
    # The objective adds the datafit's gradient into it: it must be neither
    # theta nor a buffer the next call hands out again.
    layout = ParameterLayout(LAYER_SIZES)
    theta = _theta(layout)
    before = theta.copy()
    penalty = L2(layout, 0.3)
    _, first = penalty.value_and_gradient(theta)
    first += 1.0
    _, second = penalty.value_and_gradient(theta)
    assert_array_equal(theta, before)
    assert not np.shares_memory(first, second)
    assert_allclose(second, first - 1.0)


def test_the_objective_divides_the_penalty_by_the_weight_sum():
    # L(theta) = sum_i w_i l_i / sum_i w_i + alpha/2 ||W||^2 / sum_i w_i: the
    # objective with alpha minus the objective without it is the penalty at
    # scale 1 / sum(w), value and gradient.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    y = np.arange(12) % 2
    weights = rng.uniform(0.5, 3.0, size=12)
    layout = ParameterLayout(LAYER_SIZES)
    theta = _theta(layout)
    alpha = 0.8
    with_alpha = Objective(layout, X, y, weights, alpha, n_threads=1)
    without = Objective(layout, X, y, weights, 0.0, n_threads=1)
    value_a, gradient_a = with_alpha.value_and_gradient(theta)
    value_0, gradient_0 = without.value_and_gradient(theta)
    coefs, _ = layout.unpack(theta)
    squared_norm = sum(np.sum(coef**2) for coef in coefs)
    assert value_a - value_0 == pytest.approx(
        0.5 * alpha * squared_norm / weights.sum(), rel=1e-10
    )
    expected, _ = L2(layout, alpha).value_and_gradient(theta, 1 / weights.sum())
    assert value_a - value_0 == pytest.approx(expected, rel=1e-10)
    grad_coefs, grad_intercepts = layout.unpack(gradient_a - gradient_0)
    for grad_coef, coef in zip(grad_coefs, coefs):
        assert_allclose(grad_coef, alpha * coef / weights.sum(), rtol=1e-9)
    for grad_intercept in grad_intercepts:
        assert_allclose(grad_intercept, 0.0, atol=1e-15)


def test_alpha_zero_is_no_penalty_at_an_infinite_scale():
    # Weights whose sum is subnormal make the objective's scale 1 / sum inf;
    # 0 * inf was NaN, which the fit reported as a divergence.
    layout = ParameterLayout(LAYER_SIZES)
    value, gradient = L2(layout, 0.0).value_and_gradient(_theta(layout), np.inf)
    assert value == 0.0
    assert_array_equal(gradient, 0.0)


@pytest.mark.parametrize("solver", ["gd", "nag", "lbfgs"])
def test_subnormal_weights_with_alpha_zero_fit_as_the_ratios_say(solver):
    # With alpha=0 only the ratios of the weights matter (the user guide's
    # objective): weights of 1e-310, whose sum's reciprocal overflows, give
    # the model of unit weights, up to the rounding of w_i / sum w.
    from skmlp import SoftplusMLPClassifier, SoftplusMLPRegressor

    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    targets = {SoftplusMLPClassifier: X[:, 0] > 0, SoftplusMLPRegressor: X[:, 1]}
    for Estimator, y in targets.items():
        model = Estimator(
            hidden_layer_sizes=(4,),
            solver=solver,
            alpha=0.0,
            max_iter=10,
            tol=0,
            random_state=0,
            learning_rate_init=0.1,
        )
        with pytest.warns(Warning):  # ConvergenceWarning: max_iter reached
            tiny = model.fit(X, y, sample_weight=np.full(40, 1e-310)).coefs_
        with pytest.warns(Warning):
            unit = model.fit(X, y).coefs_
        for a, b in zip(tiny, unit):
            assert_allclose(a, b, rtol=1e-10, atol=1e-12)
