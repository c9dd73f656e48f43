"""The datafits' chance level, the floor of the divergence rule."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skmlp import DivergenceError
from skmlp._datafits import MultilabelLogistic, SoftmaxCrossEntropy


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
    targets = datafit.block_targets(y(n_rows, n_outputs))
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
    import skmlp._training as training

    monkeypatch.setattr(training, "DIVERGENCE_FACTOR", 2.5)
    with pytest.raises(DivergenceError, match="reached 6"):
        training.check_loss(6.0, 0.1, math.log(8))
    training.check_loss(6.0, 0.1, MultilabelLogistic().chance_loss(8))
    # A start above the chance level is the floor.
    training.check_loss(6.0, 3.0, math.log(8))
    with pytest.raises(DivergenceError, match="non-finite"):
        training.check_loss(math.nan, 0.1, math.log(8))
