"""The network's mathematics as plain functions (skmlp._math.network): on three
rows, against a computation written row by row from the user guide's
formulas and against central finite differences; and the fast evaluation
(skmlp._evaluation.objective.Objective, in blocks, dense and sparse) against them."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from skmlp._evaluation.objective import Objective
from skmlp._math.datafits import MultilabelLogistic, SoftmaxCrossEntropy
from skmlp._math.layout import ParameterLayout
from skmlp._math.network import (
    backward,
    datafit_sum,
    flat,
    forward,
    objective,
    parameters,
)

N_FEATURES, N_OUTPUTS, N_ROWS = 4, 3, 3
HIDDEN = [(), (5,), (5, 4)]
ALPHA = 0.3


def _problem(hidden, multilabel, seed=0, n_rows=N_ROWS):
    """A random network, ``n_rows`` rows with targets and uneven weights."""
    rng = np.random.RandomState(seed)
    layout = ParameterLayout((N_FEATURES, *hidden, N_OUTPUTS))
    theta = rng.normal(scale=0.8, size=layout.n_params)
    X = rng.normal(size=(n_rows, N_FEATURES))
    if multilabel:
        y = rng.randint(0, 2, size=(n_rows, N_OUTPUTS))
        datafit = MultilabelLogistic()
    else:
        y = np.arange(n_rows) % N_OUTPUTS
        datafit = SoftmaxCrossEntropy()
    sample_weight = rng.uniform(0.2, 3.0, size=n_rows)
    return layout, theta, X, y, sample_weight, datafit


def _by_hand(W, b, X, y, sample_weight, alpha, multilabel):
    """The guide's formulas, one row (a column vector) at a time: the
    forward pass, the loss, d_{H+1}, d_l = sigma(z_l) * (W_l^T d_{l+1}),
    dW_{l-1} = d_l a_{l-1}^T, db_{l-1} = d_l, weighted by w_i / sum w,
    plus the penalty alpha / (2 sum w) sum ||W_l||^2 and its gradient."""
    H = len(W) - 1
    weight_sum = sum(sample_weight)
    total = 0.0
    dW = [np.zeros_like(W_l) for W_l in W]
    db = [np.zeros_like(b_l) for b_l in b]
    for x, target, w in zip(X, y, sample_weight):
        a, z = {0: x}, {}
        for l in range(1, H + 2):  # noqa: E741 (the guide's l)
            z[l] = W[l - 1] @ a[l - 1] + b[l - 1]
            if l <= H:
                a[l] = np.log(1 + np.exp(z[l]))
        if multilabel:
            p = 1 / (1 + np.exp(-z[H + 1]))
            loss = -np.sum(target * np.log(p) + (1 - target) * np.log(1 - p))
            d = {H + 1: p - target}
        else:
            p = np.exp(z[H + 1]) / np.sum(np.exp(z[H + 1]))
            loss = -np.log(p[target])
            d = {H + 1: p - np.eye(len(p))[target]}
        total += w * loss
        for l in range(H, 0, -1):  # noqa: E741 (the guide's l)
            d[l] = 1 / (1 + np.exp(-z[l])) * (W[l].T @ d[l + 1])
        for l in range(1, H + 2):  # noqa: E741 (the guide's l)
            dW[l - 1] += w / weight_sum * np.outer(d[l], a[l - 1])
            db[l - 1] += w / weight_sum * d[l]
    penalty = alpha / (2 * weight_sum) * sum(np.sum(W_l**2) for W_l in W)
    dW = [dW_l + alpha / weight_sum * W_l for dW_l, W_l in zip(dW, W)]
    return total / weight_sum + penalty, dW, db


@pytest.mark.parametrize("multilabel", [False, True], ids=["softmax", "multilabel"])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_the_objective_and_its_gradient_are_the_guides_formulas(hidden, multilabel):
    layout, theta, X, y, sample_weight, datafit = _problem(hidden, multilabel)
    W, b = parameters(layout, theta)
    value, dW, db = objective(W, b, X.T, y, sample_weight, ALPHA, datafit)
    expected, expected_dW, expected_db = _by_hand(
        W, b, X, y, sample_weight, ALPHA, multilabel
    )
    assert value == pytest.approx(expected, rel=1e-13)
    for got, want in zip(dW + db, expected_dW + expected_db):
        assert got.shape == want.shape
        assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("multilabel", [False, True], ids=["softmax", "multilabel"])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_the_gradient_is_the_central_finite_differences_of_the_objective(
    hidden, multilabel
):
    layout, theta, X, y, sample_weight, datafit = _problem(hidden, multilabel, seed=1)

    def L(theta):
        return objective(
            *parameters(layout, theta), X.T, y, sample_weight, ALPHA, datafit
        )

    value, dW, db = L(theta)
    gradient = flat(layout, dW, db)
    h = 1e-6
    numerical = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = h
        numerical[i] = (L(theta + step)[0] - L(theta - step)[0]) / (2 * h)
    error = np.linalg.norm(gradient - numerical) / np.linalg.norm(numerical)
    assert error < 1e-8


def test_the_forward_pass_gives_every_layer_and_the_backward_pass_sums_the_rows():
    # Shapes as the guide writes them, one column per row, and the gradient
    # of a sum of rows is the sum of the rows' gradients.
    layout, theta, X, y, sample_weight, datafit = _problem((5, 4), False)
    W, b = parameters(layout, theta)
    z, a = forward(W, b, X.T)
    assert [W_l.shape for W_l in W] == [(5, 4), (4, 5), (3, 4)]
    assert z[0] is None and [z_l.shape for z_l in z[1:]] == [(5, 3), (4, 3), (3, 3)]
    assert [a_l.shape for a_l in a] == [(4, 3), (5, 3), (4, 3)]
    _, d_out = datafit_sum(datafit, z[-1], y, np.ones(N_ROWS))
    dW, db = backward(W, z, a, d_out)
    for row in range(N_ROWS):
        one = slice(row, row + 1)
        z_row, a_row = forward(W, b, X.T[:, one])
        _, d_row = datafit_sum(datafit, z_row[-1], y[one], np.ones(1))
        dW_row, db_row = backward(W, z_row, a_row, d_row)
        if row == 0:
            sums = [g.copy() for g in dW_row + db_row]
        else:
            sums = [s + g for s, g in zip(sums, dW_row + db_row)]
    for got, want in zip(dW + db, sums):
        assert_allclose(got, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("multilabel", [False, True], ids=["softmax", "multilabel"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("block_size", [None, 7])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_the_fast_evaluation_gives_the_plain_functions_values(
    hidden, block_size, sparse, multilabel
):
    # 40 rows: one block, or six blocks of 7 rows grouped into parts.
    layout, theta, X, y, sample_weight, datafit = _problem(
        hidden, multilabel, seed=2, n_rows=40
    )
    X[np.abs(X) < 0.5] = 0.0
    rows = sp.csr_matrix(X) if sparse else X
    fast = Objective(
        layout, rows, y, sample_weight, ALPHA, datafit=datafit, block_size=block_size
    )
    value, gradient = fast.value_and_gradient(theta)
    W, b = parameters(layout, theta)
    expected, dW, db = objective(W, b, X.T, y, sample_weight, ALPHA, datafit)
    assert value == pytest.approx(expected, rel=1e-12)
    assert fast.value(theta) == pytest.approx(expected, rel=1e-12)
    assert_allclose(gradient, flat(layout, dW, db), rtol=1e-12, atol=1e-14)
