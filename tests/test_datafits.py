"""The datafits: their chance level, the floor of the divergence rule, and
the bound on a row's loss over a range of outputs."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import log_softmax

from skmlp import DivergenceError
from skmlp._math.datafits import MultilabelLogistic, SoftmaxCrossEntropy


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
    targets = datafit.block_targets(y(n_rows, n_outputs), n_outputs, z.dtype)
    work = (np.empty_like(z), np.empty(n_rows))
    loss = datafit.loss(z, targets, np.ones(n_rows), work=work)
    assert_allclose(loss / n_rows, datafit.chance_loss(n_outputs), rtol=1e-14)
    expected = {SoftmaxCrossEntropy: math.log(n_outputs)}.get(
        type(datafit), n_outputs * math.log(2)
    )
    assert datafit.chance_loss(n_outputs) == pytest.approx(expected, rel=1e-15)


def test_divergence_floor_is_the_larger_of_start_and_chance_loss(monkeypatch):
    # Eight labels: chance level 8 log 2 = 5.5, where log 8 = 2.1. With the
    # factor at 2.5 and a start of 0.1, a loss of 6 passes under the labels'
    # floor (2.5 * 5.5) and diverges under log 8's (2.5 * 2.1).
    import skmlp._training.loop as training

    monkeypatch.setattr(training, "DIVERGENCE_FACTOR", 2.5)
    with pytest.raises(DivergenceError, match="reached 6"):
        training.check_loss(6.0, 0.1, math.log(8))
    training.check_loss(6.0, 0.1, MultilabelLogistic().chance_loss(8))
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
