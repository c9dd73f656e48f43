"""The network's flat parameter vector, objective and gradient."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

import skmlp._objective
from skmlp._layout import ParameterLayout
from skmlp._objective import Objective, forward_log_proba

N_FEATURES = 4
N_CLASSES = 3


def _problem(hidden, n_samples=23, alpha=0.3, seed=0, dtype=np.float64):
    """A small random network and objective with sample weights and alpha > 0."""
    rng = np.random.RandomState(seed)
    network = ParameterLayout((N_FEATURES, *hidden, N_CLASSES))
    theta = network.initialize(rng, dtype)
    X = rng.normal(size=(n_samples, N_FEATURES)).astype(dtype)
    y = np.arange(n_samples) % N_CLASSES
    sample_weight = rng.uniform(0.2, 3.0, size=n_samples).astype(dtype)
    objective = Objective(network, X, y, sample_weight, alpha)
    return network, objective, theta


def _reference_loss(coefs, intercepts, X, y, sample_weight, alpha):
    """The objective written out sample by sample."""
    total = 0.0
    for x, label, weight in zip(X, y, sample_weight):
        a = np.asarray(x, dtype=float)
        for layer, (W, b) in enumerate(zip(coefs, intercepts)):
            z = a @ W + b
            a = z if layer == len(coefs) - 1 else np.logaddexp(0.0, z)
        p = np.exp(a - a.max())
        p /= p.sum()
        total += weight * -np.log(p[label])
    weight_sum = float(np.sum(sample_weight))
    penalty = sum(float(np.sum(W**2)) for W in coefs)
    return total / weight_sum + alpha / (2 * weight_sum) * penalty


def _reference_gradient_one_hidden_layer(W0, b0, W1, b1, X, y, sample_weight, alpha):
    """Backprop for x -> softplus(W0^T x + b0) -> softmax(W1^T a1 + b1), per
    sample, with the W1^T factor in the hidden delta (ERRATA item 2)."""
    gW0, gb0 = np.zeros_like(W0), np.zeros_like(b0)
    gW1, gb1 = np.zeros_like(W1), np.zeros_like(b1)
    weight_sum = float(np.sum(sample_weight))
    for x, label, weight in zip(X, y, sample_weight):
        z1 = x @ W0 + b0
        a1 = np.logaddexp(0.0, z1)
        z2 = a1 @ W1 + b1
        p = np.exp(z2 - z2.max())
        p /= p.sum()
        e2 = p - np.eye(len(b1))[label]
        # Coefficient matrices are (fan_in, fan_out), so "W1^T e2" of the
        # (fan_out, fan_in) convention is W1 @ e2 here.
        d1 = (1.0 / (1.0 + np.exp(-z1))) * (W1 @ e2)
        scale = weight / weight_sum
        gW1 += scale * np.outer(a1, e2)
        gb1 += scale * e2
        gW0 += scale * np.outer(x, d1)
        gb0 += scale * d1
    gW0 += alpha / weight_sum * W0
    gW1 += alpha / weight_sum * W1
    return gW0, gb0, gW1, gb1


# ----------------------------------------------------------------------------
# Layout of the flat vector


def test_number_of_parameters_is_131_for_4_16_3():
    assert ParameterLayout((4, 16, 3)).n_params == 131
    assert 16 * 4 + 16 + 3 * 16 + 3 == 131


@pytest.mark.parametrize(
    "hidden, expected",
    [
        ((), (4 + 1) * 3),
        ((7, 5, 3), (4 + 1) * 7 + (7 + 1) * 5 + (5 + 1) * 3 + (3 + 1) * 3),
    ],
)
def test_number_of_parameters_is_sum_of_fan_in_plus_one_times_fan_out(hidden, expected):
    network = ParameterLayout((4, *hidden, 3))
    assert network.n_params == expected
    assert network.n_layers == len(hidden) + 1
    rng = np.random.RandomState(0)
    assert network.initialize(rng, np.float64).shape == (expected,)


def test_pack_then_unpack_round_trips_shapes_values_and_dtype():
    network = ParameterLayout((4, 7, 5, 3))
    rng = np.random.RandomState(0)
    coefs = [rng.normal(size=s) for s in [(4, 7), (7, 5), (5, 3)]]
    intercepts = [rng.normal(size=n) for n in (7, 5, 3)]
    theta = network.pack(coefs, intercepts, np.float32)
    assert theta.dtype == np.float32
    assert theta.shape == (network.n_params,)
    coefs_back, intercepts_back = network.unpack(theta)
    for a, b in zip(coefs + intercepts, coefs_back + intercepts_back):
        assert a.shape == b.shape
        assert b.dtype == np.float32
        assert_array_equal(b, a.astype(np.float32))
    # Row-major layout: coefs[0] first, then intercepts[0], then layer 1 ...
    assert_array_equal(theta[:28], coefs[0].ravel().astype(np.float32))
    assert_array_equal(theta[28:35], intercepts[0].astype(np.float32))
    assert_array_equal(network.pack(coefs_back, intercepts_back, np.float32), theta)


def test_pack_rejects_layers_of_the_wrong_shape():
    network = ParameterLayout((4, 7, 3))
    with pytest.raises(ValueError, match="does not fit the network"):
        network.pack(
            [np.zeros((4, 6)), np.zeros((6, 3))], [np.zeros(6), np.zeros(3)], float
        )


def test_unpack_gives_views_that_write_through_to_theta():
    network = ParameterLayout((4, 7, 3))
    theta = np.arange(network.n_params, dtype=np.float64)
    coefs, intercepts = network.unpack(theta)
    for part in coefs + intercepts:
        assert np.shares_memory(part, theta)
    coefs[1][2, 1] = -1.0
    intercepts[0][3] = -2.0
    assert theta[4 * 7 + 7 + 2 * 3 + 1] == -1.0
    assert theta[4 * 7 + 3] == -2.0
    theta[-1] = -3.0
    assert intercepts[-1][-1] == -3.0


def test_initialize_is_glorot_uniform_and_reproducible():
    network = ParameterLayout((4, 16, 3))
    theta = network.initialize(np.random.RandomState(0), np.float64)
    assert_array_equal(theta, network.initialize(np.random.RandomState(0), np.float64))
    coefs, intercepts = network.unpack(theta)
    assert np.abs(np.concatenate([coefs[0].ravel(), intercepts[0]])).max() <= np.sqrt(
        6 / 20
    )
    assert np.abs(np.concatenate([coefs[1].ravel(), intercepts[1]])).max() <= np.sqrt(
        6 / 19
    )
    assert network.initialize(np.random.RandomState(0), np.float32).dtype == np.float32


# ----------------------------------------------------------------------------
# Objective


@pytest.mark.parametrize("hidden", [(), (3,), (4, 3)])
def test_value_equals_loss_of_value_and_gradient(hidden):
    _, objective, theta = _problem(hidden)
    loss, _ = objective.value_and_gradient(theta)
    assert objective.value(theta) == pytest.approx(loss, rel=1e-14)


@pytest.mark.parametrize("hidden", [(), (3,), (4, 3)])
def test_loss_equals_per_sample_weighted_cross_entropy_plus_l2_reference(hidden):
    network, objective, theta = _problem(hidden, alpha=0.7)
    coefs, intercepts = network.unpack(theta)
    expected = _reference_loss(
        coefs, intercepts, objective.X, objective.y, objective.sample_weight, 0.7
    )
    assert objective.value(theta) == pytest.approx(expected, rel=1e-12)


def test_intercepts_are_not_penalised():
    network, penalised, theta = _problem((3,), alpha=5.0)
    unpenalised = Objective(
        network, penalised.X, penalised.y, penalised.sample_weight, 0
    )
    shifted = theta.copy()
    for intercept in network.unpack(shifted)[1]:
        intercept += 10.0
    # The penalty (penalised - unpenalised) does not see the intercepts ...
    penalty = penalised.value(theta) - unpenalised.value(theta)
    assert penalised.value(shifted) - unpenalised.value(shifted) == pytest.approx(
        penalty, rel=1e-10
    )
    assert penalty > 0.0
    # ... and adds nothing to their gradient.
    _, gradient = penalised.value_and_gradient(theta)
    _, gradient_unpenalised = unpenalised.value_and_gradient(theta)
    coefs_difference, intercepts_difference = network.unpack(
        gradient - gradient_unpenalised
    )
    for difference in intercepts_difference:
        assert_array_equal(difference, 0.0)
    for difference, coef in zip(coefs_difference, network.unpack(theta)[0]):
        assert_allclose(difference, 5.0 / penalised.weight_sum * coef, rtol=1e-10)


def test_penalty_is_alpha_over_twice_weight_sum_times_squared_weights():
    network, objective, theta = _problem((3,), alpha=0.0)
    coefs, _ = network.unpack(theta)
    squares = sum(float(np.sum(c**2)) for c in coefs)
    weight_sum = objective.sample_weight.sum()
    penalised = Objective(
        network, objective.X, objective.y, objective.sample_weight, 2.5
    )
    assert penalised.value(theta) - objective.value(theta) == pytest.approx(
        2.5 / (2 * weight_sum) * squares, rel=1e-12
    )


def test_gradient_equals_reference_backprop_with_w1_transpose():
    network, objective, theta = _problem((5,), alpha=0.4)
    (W0, W1), (b0, b1) = network.unpack(theta)
    expected = _reference_gradient_one_hidden_layer(
        W0, b0, W1, b1, objective.X, objective.y, objective.sample_weight, 0.4
    )
    _, gradient = objective.value_and_gradient(theta)
    (gW0, gW1), (gb0, gb1) = network.unpack(gradient)
    for actual, reference in zip((gW0, gb0, gW1, gb1), expected):
        assert_allclose(actual, reference, rtol=1e-12, atol=1e-15)


def test_gradient_is_a_new_vector_and_theta_is_not_modified():
    _, objective, theta = _problem((3,))
    theta_before = theta.copy()
    _, gradient = objective.value_and_gradient(theta)
    assert not np.shares_memory(gradient, theta)
    assert_array_equal(theta, theta_before)


@pytest.mark.parametrize("hidden", [(), (3,), (4, 3)])
def test_gradient_matches_central_finite_differences(hidden):
    _, objective, theta = _problem(hidden, alpha=0.3)
    _, gradient = objective.value_and_gradient(theta)
    h = 1e-6
    numerical = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = h
        numerical[i] = (
            objective.value(theta + step) - objective.value(theta - step)
        ) / (2 * h)
    relative_error = np.linalg.norm(gradient - numerical) / np.linalg.norm(numerical)
    assert relative_error < 1e-8


@pytest.mark.parametrize("hidden", [(), (4, 3)])
def test_chunked_objective_equals_one_chunk(monkeypatch, hidden):
    # 50 rows are one chunk at the default CHUNK_SIZE, eight (7 rows each
    # and a last one of 1) when it is 7. The objective is built under the
    # chunk size it is evaluated with.
    network, one_chunk, theta = _problem(hidden, n_samples=50)
    loss, gradient = one_chunk.value_and_gradient(theta)
    log_proba = forward_log_proba(*network.unpack(theta), one_chunk.X)
    monkeypatch.setattr(skmlp._objective, "CHUNK_SIZE", 7)
    chunked = Objective(
        network, one_chunk.X, one_chunk.y, one_chunk.sample_weight, one_chunk.alpha
    )
    chunked_loss, chunked_gradient = chunked.value_and_gradient(theta)
    assert chunked_loss == pytest.approx(loss, rel=1e-13)
    assert chunked.value(theta) == pytest.approx(loss, rel=1e-13)
    assert_allclose(chunked_gradient, gradient, rtol=1e-12, atol=1e-16)
    assert_allclose(
        forward_log_proba(*network.unpack(theta), one_chunk.X), log_proba, rtol=1e-14
    )


@pytest.mark.parametrize("chunk_size", [None, 9])
def test_sparse_csr_input_gives_the_dense_objective(monkeypatch, chunk_size):
    if chunk_size is not None:
        monkeypatch.setattr(skmlp._objective, "CHUNK_SIZE", chunk_size)
    network, dense, theta = _problem((4, 3), n_samples=40)
    X = dense.X.copy()
    X[np.abs(X) < 0.8] = 0.0  # about half the entries
    dense = Objective(network, X, dense.y, dense.sample_weight, dense.alpha)
    sparse = Objective(network, sp.csr_matrix(X), dense.y, dense.sample_weight, 0.3)
    loss, gradient = dense.value_and_gradient(theta)
    sparse_loss, sparse_gradient = sparse.value_and_gradient(theta)
    assert sparse_loss == pytest.approx(loss, rel=1e-13)
    assert sparse.value(theta) == pytest.approx(loss, rel=1e-13)
    assert_allclose(sparse_gradient, gradient, rtol=1e-12, atol=1e-16)
    coefs, intercepts = network.unpack(theta)
    assert_allclose(
        forward_log_proba(coefs, intercepts, sp.csr_matrix(X)),
        forward_log_proba(coefs, intercepts, X),
        rtol=1e-13,
    )


def test_float32_objective_returns_float32_gradient_close_to_float64():
    network, objective64, theta64 = _problem((4,))
    theta32 = theta64.astype(np.float32)
    objective32 = Objective(
        network,
        objective64.X.astype(np.float32),
        objective64.y,
        objective64.sample_weight.astype(np.float32),
        objective64.alpha,
    )
    loss32, gradient32 = objective32.value_and_gradient(theta32)
    loss64, gradient64 = objective64.value_and_gradient(theta64)
    assert gradient32.dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    assert_allclose(gradient32, gradient64, rtol=1e-4, atol=1e-6)


def _fresh_evaluation(objective, theta):
    """value_and_gradient of a new objective on the same rows at ``theta``."""
    fresh = Objective(
        objective.network,
        objective.X,
        objective.y,
        objective.sample_weight,
        objective.alpha,
    )
    return fresh.value_and_gradient(theta.copy())


@pytest.mark.parametrize("chunk_size", [None, 7])
@pytest.mark.parametrize("sparse", [False, True])
def test_evaluations_in_any_order_give_what_a_fresh_objective_gives(
    monkeypatch, chunk_size, sparse
):
    # An objective keeps the rows of a single chunk and the views of the
    # last theta between calls, and its chunks of 7 rows end with one of 1
    # (whose rows of ones overlap the others' numbers): gradients, values
    # and thetas changed in place, in any order, must not see stale
    # buffers.
    if chunk_size is not None:
        monkeypatch.setattr(skmlp._objective, "CHUNK_SIZE", chunk_size)
    network, objective, theta = _problem((5, 4), n_samples=50)
    if sparse:
        X = objective.X.copy()
        X[np.abs(X) < 0.8] = 0.0
        objective = Objective(
            network, sp.csr_matrix(X), objective.y, objective.sample_weight, 0.3
        )
    rng = np.random.RandomState(1)
    for _ in range(3):
        expected_loss, expected_gradient = _fresh_evaluation(objective, theta)
        assert objective.value(theta) == expected_loss
        loss, gradient = objective.value_and_gradient(theta)
        assert loss == expected_loss
        assert_array_equal(gradient, expected_gradient)
        other = theta + rng.normal(scale=0.1, size=theta.shape)
        assert objective.value(other) == _fresh_evaluation(objective, other)[0]
        # The same array, changed in place.
        theta -= 0.5 * gradient


def test_forward_log_proba_gives_the_log_softmax_of_every_row(monkeypatch):
    # Rows of one chunk and of several: the class-major layout of a chunk
    # is transposed back into one row per sample.
    network, objective, theta = _problem((5,), n_samples=50)
    coefs, intercepts = network.unpack(theta)
    X = objective.X
    logits = np.logaddexp(0.0, X @ coefs[0] + intercepts[0]) @ coefs[1] + intercepts[1]
    expected = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    assert_allclose(forward_log_proba(coefs, intercepts, X), expected, rtol=1e-13)
    monkeypatch.setattr(skmlp._objective, "CHUNK_SIZE", 8)
    assert_allclose(forward_log_proba(coefs, intercepts, X), expected, rtol=1e-13)


@pytest.mark.parametrize("chunk_size", [None, 7])
def test_set_rows_gives_the_objective_of_the_new_rows(monkeypatch, chunk_size):
    # A mini-batch epoch moves one objective from batch to batch, keeping
    # its buffers: batches of 20, 5 and 30 rows (more than the buffers were
    # made for) with other weight sums, then sparse rows, must each give
    # what a fresh objective of those rows gives.
    if chunk_size is not None:
        monkeypatch.setattr(skmlp._objective, "CHUNK_SIZE", chunk_size)
    network, objective, theta = _problem((5, 4), n_samples=50)
    X, y, weight = objective.X, objective.y, objective.sample_weight
    moving = Objective(network, X[:20], y[:20], weight[:20], objective.alpha)
    moving.value_and_gradient(theta)
    batches = [slice(20, 25), slice(5, 35), slice(0, 50)]
    for rows, sparse in [(batch, False) for batch in batches] + [(batches[1], True)]:
        X_rows = sp.csr_matrix(X[rows]) if sparse else X[rows]
        moving.set_rows(X_rows, y[rows], weight[rows])
        fresh = Objective(network, X_rows, y[rows], weight[rows], objective.alpha)
        assert moving.weight_sum == fresh.weight_sum
        loss, gradient = moving.value_and_gradient(theta)
        expected_loss, expected_gradient = fresh.value_and_gradient(theta)
        assert loss == expected_loss
        assert_array_equal(gradient, expected_gradient)
        assert moving.value(theta) == expected_loss
