"""The datafits: their chance level, the floor of the divergence rule, and
the bound on a row's loss over a range of outputs."""

import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import log_softmax

from skmlp import DivergenceError
from skmlp._math.datafits import (
    MultilabelLogistic,
    PoissonDeviance,
    SoftmaxCrossEntropy,
    SquaredError,
)


@pytest.mark.parametrize("n_outputs", [2, 3, 7])
@pytest.mark.parametrize(
    "datafit, y",
    [
        (SoftmaxCrossEntropy(), lambda n, k: np.arange(n) % k),
        (MultilabelLogistic(), lambda n, k: np.arange(n * k).reshape(n, k) % 2),
    ],
)
def test_chance_loss_is_the_loss_of_zero_outputs(datafit, y, n_outputs):
    # Zero outputs predict every class with 1/K (softmax) or every label with
    # 1/2 (logistic): the loss of each row is then the chance level, whatever
    # its targets. Computed here by the datafit's own loss.
    n_rows = 5
    z = np.zeros((n_outputs, n_rows))
    labels, weight = y(n_rows, n_outputs), np.ones(n_rows)
    targets = datafit.block_targets(labels, n_outputs, z.dtype)
    work = (np.empty_like(z), np.empty(n_rows))
    loss = datafit.loss(z, targets, weight, work=work)
    chance = datafit.chance_loss(n_outputs, labels, weight)
    assert_allclose(loss / n_rows, chance, rtol=1e-14)
    expected = {SoftmaxCrossEntropy: math.log(n_outputs)}.get(
        type(datafit), n_outputs * math.log(2)
    )
    assert chance == pytest.approx(expected, rel=1e-15)


def test_divergence_floor_is_the_larger_of_start_and_chance_loss(monkeypatch):
    # Eight labels: chance level 8 log 2 = 5.5, where log 8 = 2.1. With the
    # factor at 2.5 and a start of 0.1, a loss of 6 passes under the labels'
    # floor (2.5 * 5.5) and diverges under log 8's (2.5 * 2.1).
    import skmlp._training.loop as training

    monkeypatch.setattr(training, "DIVERGENCE_FACTOR", 2.5)
    with pytest.raises(DivergenceError, match="reached 6"):
        training.check_loss(6.0, 0.1, math.log(8))
    training.check_loss(6.0, 0.1, MultilabelLogistic().chance_loss(8, None, None))
    # A start above the chance level is the floor.
    training.check_loss(6.0, 3.0, math.log(8))
    with pytest.raises(DivergenceError, match="non-finite"):
        training.check_loss(math.nan, 0.1, math.log(8))


def _row_losses(datafit, z, y):
    """The loss of each column of ``z`` (one row of outputs) with target
    ``y`` of each, by the datafit's own loss."""
    losses = []
    for k in range(z.shape[1]):
        column = z[:, k : k + 1].copy()
        work = (np.empty_like(column), np.empty(1))
        targets = datafit.block_targets(y[k : k + 1], len(column), column.dtype)
        losses.append(datafit.loss(column, targets, [1.0], work=work))
    return np.array(losses)


@pytest.mark.parametrize("seed", range(5))
def test_the_loss_bound_is_the_largest_loss_over_the_range_of_outputs(seed):
    # Over the box low <= z <= high: every corner and random points inside,
    # for every target. The labels' losses are separate and monotone in each
    # output, so their bound is reached at a corner; the softmax's is within
    # the box's widest side of the largest loss (logsumexp is 1-Lipschitz).
    rng = np.random.RandomState(seed)
    n_outputs = 3
    low = rng.normal(scale=5, size=n_outputs)
    high = low + rng.exponential(scale=5, size=n_outputs)
    corners = np.array(np.meshgrid(*zip(low, high))).reshape(n_outputs, -1)
    inside = low[:, None] + (high - low)[:, None] * rng.uniform(size=(n_outputs, 200))
    z = np.hstack([corners, inside])
    n = z.shape[1]

    softmax = SoftmaxCrossEntropy()
    largest = max(
        _row_losses(softmax, z, np.full(n, label)).max() for label in range(n_outputs)
    )
    bound = softmax.loss_bound(low, high)
    assert largest <= bound <= largest + np.max(high - low)

    labels = MultilabelLogistic()
    all_targets = np.array(np.meshgrid(*[[0, 1]] * n_outputs)).reshape(n_outputs, -1).T
    largest = max(
        _row_losses(labels, z, np.tile(targets, (n, 1))).max()
        for targets in all_targets
    )
    assert_allclose(labels.loss_bound(low, high), largest, rtol=1e-12)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("datafit", [SoftmaxCrossEntropy(), MultilabelLogistic()])
def test_held_out_loss_of_the_log_proba_is_the_loss_of_the_outputs(datafit, seed):
    # Two routes to the same weighted loss: the training one from the
    # outputs z, and the held-out one from the predictions log p that
    # predict reads (rows first). Logits up to 30 put some p near 1, where
    # log(1 - p) must not cancel.
    rng = np.random.RandomState(seed)
    n_rows, n_outputs = 9, 4
    z = rng.uniform(-30, 30, (n_outputs, n_rows))
    if isinstance(datafit, SoftmaxCrossEntropy):
        y = rng.randint(n_outputs, size=n_rows)
    else:
        y = rng.randint(2, size=(n_rows, n_outputs)).astype(float)
    weight = rng.uniform(0, 2, n_rows)
    targets = datafit.block_targets(y, n_outputs, z.dtype)
    work = (np.empty_like(z), np.empty(n_rows))
    expected = datafit.loss(z.copy(), targets, weight, work=work)
    log_proba = datafit.log_proba(z.copy(), work).T
    assert_allclose(datafit.held_out_loss(log_proba, y, weight), expected, rtol=1e-12)
    # And by hand, from the logits: -log softmax(z)_y, or for each label
    # softplus(z) if absent and softplus(-z) if present.
    if isinstance(datafit, SoftmaxCrossEntropy):
        rows = -log_softmax(z, axis=0)[y, np.arange(n_rows)]
    else:
        rows = np.sum(np.where(y.T == 1, np.logaddexp(0, -z), np.logaddexp(0, z)), 0)
    assert_allclose(
        datafit.held_out_loss(log_proba, y, weight), np.dot(weight, rows), rtol=1e-10
    )


REGRESSION = [SquaredError(), PoissonDeviance()]


def _regression_targets(datafit, rng, n_rows, n_outputs):
    """Real targets, or counts (with zeros) for the Poisson deviance."""
    if isinstance(datafit, PoissonDeviance):
        return rng.poisson(2.0, size=(n_rows, n_outputs)).astype(float)
    return rng.normal(scale=3.0, size=(n_rows, n_outputs))


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("datafit", REGRESSION)
def test_regression_loss_is_mlpregressors_loss_of_its_predictions(datafit, n_outputs):
    # scikit-learn's own squared_loss and poisson_loss (what MLPRegressor's
    # loss_ reports, without the penalty) of the predictions that the
    # datafit makes of the outputs: identity, or exp for the log link. The
    # weighted sum divided by the weights is their weighted average.
    from sklearn.neural_network import _base

    if not hasattr(_base, "poisson_loss"):
        # MLPRegressor's loss='poisson' and the weights of its losses came
        # with scikit-learn 1.7; the oldest supported version has neither.
        pytest.skip("scikit-learn < 1.7 has no poisson_loss")
    poisson_loss, squared_loss = _base.poisson_loss, _base.squared_loss

    rng = np.random.RandomState(n_outputs)
    n_rows = 11
    z = rng.normal(size=(n_outputs, n_rows))
    y = _regression_targets(datafit, rng, n_rows, n_outputs)
    weight = rng.uniform(0.1, 2.0, n_rows)
    targets = datafit.block_targets(y, n_outputs, z.dtype)
    work = (np.empty_like(z), np.empty(n_rows))
    loss = datafit.loss(z.copy(), targets, weight, work=work) / weight.sum()
    predictions = datafit.log_proba(z.copy(), work).T
    reference = {SquaredError: squared_loss, PoissonDeviance: poisson_loss}
    expected = reference[type(datafit)](y, predictions, weight)
    assert loss == pytest.approx(expected, rel=1e-13)
    if isinstance(datafit, SquaredError):
        assert_allclose(predictions, z.T, rtol=0)
    else:
        assert_allclose(predictions, np.exp(z.T), rtol=1e-15)
    # The same loss from the predictions, as the held-out rows are scored.
    held_out = datafit.held_out_loss(predictions, y, weight) / weight.sum()
    assert held_out == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("datafit", REGRESSION)
def test_regression_error_is_the_derivative_of_the_row_loss(datafit):
    # dl/dz = (z - y) / K for the squared error, exp(z) - y for the Poisson
    # deviance: the error written beside the loss, against the formula.
    rng = np.random.RandomState(0)
    n_rows, n_outputs = 7, 3
    z = rng.normal(size=(n_outputs, n_rows))
    y = _regression_targets(datafit, rng, n_rows, n_outputs)
    targets = datafit.block_targets(y, n_outputs, z.dtype)
    error = np.empty_like(z)
    datafit.loss(z.copy(), targets, np.ones(n_rows), error, (error, np.empty(n_rows)))
    if isinstance(datafit, SquaredError):
        expected = (z - y.T) / n_outputs
    else:
        expected = np.exp(z) - y.T
    assert_allclose(error, expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("datafit", REGRESSION)
def test_regression_chance_loss_is_the_loss_of_predicting_the_weighted_mean(
    datafit, n_outputs
):
    # The divergence rule's floor for real targets: every row predicted by
    # the targets' weighted mean (z its log for the log link), by the
    # datafit's own loss; no other constant does better.
    rng = np.random.RandomState(1)
    n_rows = 13
    y = _regression_targets(datafit, rng, n_rows, n_outputs)
    weight = rng.uniform(0.1, 2.0, n_rows)
    mean = np.average(y, axis=0, weights=weight)
    link = np.log if isinstance(datafit, PoissonDeviance) else (lambda m: m)
    targets = datafit.block_targets(y, n_outputs, np.float64)

    def constant_loss(prediction):
        z = np.repeat(link(prediction)[:, None], n_rows, axis=1)
        work = (np.empty_like(z), np.empty(n_rows))
        return datafit.loss(z, targets, weight, work=work) / weight.sum()

    chance = datafit.chance_loss(n_outputs, y, weight)
    assert chance == pytest.approx(constant_loss(mean), rel=1e-12)
    assert chance > 0
    for shift in (0.9, 1.1):
        assert constant_loss(mean * shift) > chance


def test_poisson_chance_level_ignores_rows_of_weight_0():
    # An output positive only on a row of weight 0 has the mean 0; that
    # row's y log 0 = -inf times 0 made the floor NaN (and the divergence
    # rule never fired). It is the level of the rows without it.
    datafit = PoissonDeviance()
    y = np.column_stack([[1.0, 3.0, 2.0, 0.0], [5.0, 0.0, 0.0, 0.0]])
    weight = np.array([0.0, 1.0, 2.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chance = datafit.chance_loss(2, y, weight)
    assert chance == pytest.approx(datafit.chance_loss(2, y[1:], weight[1:]), rel=1e-15)
    assert math.isfinite(chance) and chance > 0


def test_poisson_start_of_an_output_without_events_is_half_an_event_among_its_rows():
    # Its best intercept is -inf. It starts at log(1 / (2 n)), n the rows
    # the weights stand for: their sum, as integer weights are repeated
    # rows, but at least the rows of positive weight (a row of weight 0 is
    # as good as absent), so that weights of a small scale count each row;
    # an output with events starts at the log of its weighted mean.
    datafit = PoissonDeviance()
    y = np.column_stack([[0.0, 2.0, 1.0, 0.0, 3.0], np.zeros(5)])
    weight = np.array([1.0, 2.0, 0.0, 1.0, 1.0])
    intercepts = datafit.intercept_only(y, weight)
    assert intercepts[0] == pytest.approx(math.log(7 / 5), rel=1e-15)
    assert intercepts[1] == pytest.approx(math.log(1 / 10), rel=1e-15)
    # The rows repeated as their weights say start where the weights do.
    repeated = np.repeat(y, weight.astype(int), axis=0)
    assert_allclose(
        datafit.intercept_only(repeated, np.ones(len(repeated))), intercepts, rtol=1e-15
    )
    # Weights of a small scale: the 4 rows of positive weight.
    small = datafit.intercept_only(y, 1e-3 * weight)
    assert small[0] == pytest.approx(intercepts[0], rel=1e-15)
    assert small[1] == pytest.approx(math.log(1 / 8), rel=1e-15)
    # Rows on a Dask cluster give their mean as one row, with their count.
    mean = np.average(y, axis=0, weights=weight)
    assert_allclose(
        datafit.intercept_only(mean[None, :], np.ones(1), n_rows=5),
        intercepts,
        rtol=1e-15,
    )


@pytest.mark.parametrize("datafit", REGRESSION)
def test_regression_loss_is_unbounded_over_a_range_of_outputs(datafit):
    # A target can be anywhere: no bound spares the pass over the rows.
    assert datafit.loss_bound(np.zeros(2), np.ones(2)) == math.inf


@pytest.mark.parametrize("datafit", REGRESSION)
def test_regression_held_out_score_is_the_weighted_r2(datafit):
    from sklearn.metrics import r2_score

    rng = np.random.RandomState(2)
    y = _regression_targets(datafit, rng, 20, 2)
    predictions = y + rng.normal(size=y.shape)
    weight = rng.uniform(0.1, 2.0, 20)
    expected = r2_score(y, predictions, sample_weight=weight)
    assert datafit.held_out_score(predictions, y, weight) == pytest.approx(
        expected, rel=1e-14
    )
    assert datafit.held_out_score(y, y, weight) == 1.0


@pytest.mark.parametrize("datafit", REGRESSION)
def test_a_constant_output_scores_as_r2_score_defines_it_not_its_rounding(datafit):
    # Twenty 0.3s: their weighted mean does not round to 0.3, and
    # r2_score's sum of squares of the constant output was 1e-33, not 0:
    # an R^2 of -1e31 that decided which epoch early stopping kept. The
    # output scores 0 (1 if predicted exactly), as r2_score gives it for a
    # sum of exactly 0.
    from sklearn.metrics import r2_score

    rng = np.random.RandomState(2)
    y = np.c_[rng.uniform(1.0, 2.0, 20), np.full(20, 0.3)]
    predictions = y + rng.uniform(0.01, 0.1, size=y.shape)
    # (With other weights the mean may round to 0.3, and r2_score is right.)
    weight = np.ones(20)
    assert r2_score(y, predictions, sample_weight=weight) < -1e20
    first = r2_score(y[:, 0], predictions[:, 0], sample_weight=weight)
    score = datafit.held_out_score(predictions, y, weight)
    assert score == pytest.approx((first + 0.0) / 2, rel=1e-14)
    exact = np.c_[predictions[:, 0], y[:, 1]]
    assert datafit.held_out_score(exact, y, weight) == pytest.approx(
        (first + 1.0) / 2, rel=1e-14
    )
    # Only the rows that weigh count: a row of weight 0 that differs
    # leaves the output constant.
    y[0, 1], weight[0] = 5.0, 0.0
    assert datafit.held_out_score(predictions, y, weight) == pytest.approx(
        (r2_score(y[:, 0], predictions[:, 0], sample_weight=weight) + 0.0) / 2,
        rel=1e-14,
    )


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("hidden", [(), (5, 4)])
@pytest.mark.parametrize("datafit", REGRESSION)
def test_regression_gradient_matches_central_differences(
    datafit, hidden, n_outputs, sparse, weighted
):
    # The gradient of the whole objective (datafit, backward pass, penalty)
    # against central differences of its value, both losses, one and several
    # outputs, dense and sparse rows, with and without sample weights.
    import scipy.sparse

    from skmlp._evaluation.objective import Objective
    from skmlp._math.layout import ParameterLayout

    rng = np.random.RandomState(len(hidden) + n_outputs)
    n_rows, n_features = 25, 4
    layout = ParameterLayout((n_features, *hidden, n_outputs))
    theta = layout.initialize(rng, np.float64)
    X = rng.normal(size=(n_rows, n_features))
    X[rng.uniform(size=X.shape) < 0.4] = 0.0
    if sparse:
        X = scipy.sparse.csr_matrix(X)
    y = _regression_targets(datafit, rng, n_rows, n_outputs)
    weight = rng.uniform(0.2, 3.0, n_rows) if weighted else np.ones(n_rows)
    objective = Objective(layout, X, y, weight, 0.3, datafit=datafit)

    loss, gradient = objective.value_and_gradient(theta)
    assert loss == objective.value(theta)
    numerical = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = 1e-6
        numerical[i] = (
            objective.value(theta + step) - objective.value(theta - step)
        ) / 2e-6
    assert np.linalg.norm(gradient - numerical) / np.linalg.norm(numerical) < 1e-7


@pytest.mark.parametrize("scale", [1e160, 1e307])
def test_the_squared_errors_chance_level_of_huge_targets_is_inf_without_warning(
    scale,
):
    # The square of targets beyond about 1e154 overflows: the chance level
    # is inf (the divergence rule's threshold then is too), with no NumPy
    # warning, also where a row of weight 0 would make inf * 0.
    y = np.array([[1.0], [-1.0], [3.0]]) * scale
    weight = np.array([1.0, 2.0, 0.0])
    assert SquaredError().chance_loss(1, y, weight) == math.inf
    # Targets of a common scale: the weighted variance, halved.
    y = np.array([[1.0], [-1.0], [3.0]])
    mean = (1.0 - 2.0) / 3
    expected = ((1 - mean) ** 2 + 2 * (-1 - mean) ** 2) / 3 / 2
    assert SquaredError().chance_loss(1, y, weight) == pytest.approx(expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_regressors_outputs_overflow_on_inf_and_a_classifiers_on_nan_only(dtype):
    # A classifier's log-probability of -inf is a probability that
    # underflowed to 0, a prediction; a regressor's inf predicts nothing.
    finite = np.array([[0.0, -3.0], [2.0, 1.0]], dtype)
    huge = np.full((2, 2), np.finfo(dtype).max, dtype)  # its sum overflows
    for datafit in (SquaredError(), PoissonDeviance()):
        assert not datafit.overflowed(finite)
        assert not datafit.overflowed(huge)
        for value in (np.inf, -np.inf, np.nan):
            outputs = finite.copy()
            outputs[1, 0] = value
            assert datafit.overflowed(outputs)
    for datafit in (SoftmaxCrossEntropy(), MultilabelLogistic()):
        outputs = finite.copy()
        outputs[1, 0] = -np.inf
        assert not datafit.overflowed(outputs)
        outputs[0, 1] = np.nan
        assert datafit.overflowed(outputs)


def test_the_exp_of_a_poisson_output_past_the_range_is_an_overflow():
    # exp(z) is the predicted mean: past log(max) it is inf, which the
    # check must see in the datafit's own predictions.
    z = np.array([[1.0, 710.0]])
    with np.errstate(over="ignore"):
        means = PoissonDeviance().log_proba(z, None)
    assert PoissonDeviance().overflowed(means)
    assert not PoissonDeviance().overflowed(means[:, :1])
