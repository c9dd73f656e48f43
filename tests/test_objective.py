"""The objective: datafit plus penalty, its gradient, blocks, parts and rows."""

import gc
import threading
import weakref

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

import skmlp._evaluation.blocks
from skmlp._evaluation.blocks import forward_log_proba
from skmlp._evaluation.execution import ThreadedExecutor
from skmlp._evaluation.objective import Objective
from skmlp._math.datafits import MultilabelLogistic
from skmlp._math.layout import ParameterLayout

N_FEATURES = 4
N_CLASSES = 3


def _problem(hidden, n_samples=23, alpha=0.3, seed=0, dtype=np.float64, **options):
    """A small random network and objective with sample weights and alpha > 0;
    ``options`` go to the objective (``block_size``, ``executor``)."""
    rng = np.random.RandomState(seed)
    layout = ParameterLayout((N_FEATURES, *hidden, N_CLASSES))
    theta = layout.initialize(rng, dtype)
    X = rng.normal(size=(n_samples, N_FEATURES)).astype(dtype)
    y = np.arange(n_samples) % N_CLASSES
    sample_weight = rng.uniform(0.2, 3.0, size=n_samples).astype(dtype)
    objective = Objective(layout, X, y, sample_weight, alpha, **options)
    return layout, objective, theta


def _same_rows(objective, alpha=0.3, X=None, **options):
    """An objective of the rows of ``objective`` (or of ``X`` instead)."""
    return Objective(
        objective.layout,
        objective.X if X is None else X,
        objective.y,
        objective.sample_weight,
        alpha,
        **options,
    )


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
    sample, with the W1^T factor in the hidden delta (the user guide's step 3)."""
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


@pytest.mark.parametrize("hidden", [(), (3,), (4, 3)])
def test_value_equals_loss_of_value_and_gradient(hidden):
    _, objective, theta = _problem(hidden)
    loss, _ = objective.value_and_gradient(theta)
    assert objective.value(theta) == pytest.approx(loss, rel=1e-14)


@pytest.mark.parametrize("hidden", [(), (3,), (4, 3)])
def test_loss_equals_per_sample_weighted_cross_entropy_plus_l2_reference(hidden):
    # value is the datafit plus the penalty; datafit_value the datafit
    # alone (what the chance-level warning judges).
    layout, objective, theta = _problem(hidden, alpha=0.7)
    coefs, intercepts = layout.unpack(theta)
    rows = (objective.X, objective.y, objective.sample_weight)
    for value, alpha in ((objective.value, 0.7), (objective.datafit_value, 0.0)):
        expected = _reference_loss(coefs, intercepts, *rows, alpha)
        assert value(theta) == pytest.approx(expected, rel=1e-12)
    assert objective.value(theta) > objective.datafit_value(theta) + 1e-3


def test_intercepts_are_not_penalised():
    layout, penalised, theta = _problem((3,), alpha=5.0)
    unpenalised = _same_rows(penalised, alpha=0.0)
    shifted = theta.copy()
    for intercept in layout.unpack(shifted)[1]:
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
    coefs_difference, intercepts_difference = layout.unpack(
        gradient - gradient_unpenalised
    )
    for difference in intercepts_difference:
        assert_array_equal(difference, 0.0)
    for difference, coef in zip(coefs_difference, layout.unpack(theta)[0]):
        assert_allclose(difference, 5.0 / penalised.weight_sum * coef, rtol=1e-10)


def test_penalty_is_alpha_over_twice_weight_sum_times_squared_weights():
    layout, objective, theta = _problem((3,), alpha=0.0)
    coefs, _ = layout.unpack(theta)
    squares = sum(float(np.sum(c**2)) for c in coefs)
    weight_sum = objective.sample_weight.sum()
    penalised = _same_rows(objective, alpha=2.5)
    assert penalised.value(theta) - objective.value(theta) == pytest.approx(
        2.5 / (2 * weight_sum) * squares, rel=1e-12
    )


def test_gradient_equals_reference_backprop_with_w1_transpose():
    layout, objective, theta = _problem((5,), alpha=0.4)
    (W0, W1), (b0, b1) = layout.unpack(theta)
    expected = _reference_gradient_one_hidden_layer(
        W0, b0, W1, b1, objective.X, objective.y, objective.sample_weight, 0.4
    )
    _, gradient = objective.value_and_gradient(theta)
    (gW0, gW1), (gb0, gb1) = layout.unpack(gradient)
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


# 50 rows: one block at the default block size, eight (7 rows each and a last
# one of 1) at a block size of 7, grouped into at most 8 parts; 9 rows per
# block make 6 blocks, of which the last is short.
BLOCKINGS = [{}, {"block_size": 7}, {"block_size": 9}, {"block_size": 3}]


@pytest.mark.parametrize("hidden", [(), (4, 3)])
@pytest.mark.parametrize("blocking", BLOCKINGS[1:])
def test_objective_in_blocks_and_parts_equals_one_block(hidden, blocking):
    # Block size 3: 17 blocks in 8 parts of two or three blocks, whose
    # gradients are added up inside each part, then part by part.
    layout, one_block, theta = _problem(hidden, n_samples=50)
    loss, gradient = one_block.value_and_gradient(theta)
    blocked = _same_rows(one_block, **blocking)
    blocked_loss, blocked_gradient = blocked.value_and_gradient(theta)
    assert blocked_loss == pytest.approx(loss, rel=1e-13)
    assert blocked.value(theta) == pytest.approx(loss, rel=1e-13)
    assert_allclose(blocked_gradient, gradient, rtol=1e-12, atol=1e-16)
    coefs, intercepts = layout.unpack(theta)
    assert_allclose(
        forward_log_proba(coefs, intercepts, one_block.X, **blocking),
        forward_log_proba(coefs, intercepts, one_block.X),
        rtol=1e-14,
    )


@pytest.fixture
def cut_small_rows(monkeypatch):
    """Rows of one block cut into parts of at least 6 rows however little
    their work, so that the small problems here are cut: 50 rows make 8
    parts."""
    monkeypatch.setattr(skmlp._evaluation.blocks, "MIN_PART_ROWS", 6)
    monkeypatch.setattr(skmlp._evaluation.blocks, "MIN_PART_WORK", 1)


class _CountingExecutor(ThreadedExecutor):
    """Serial, recording the number of parts of each call."""

    def __init__(self):
        super().__init__(n_threads=1)
        self.parts = []

    def map(self, function, parts, cost=0):
        parts = list(parts)
        self.parts.append(len(parts))
        return super().map(function, parts, cost)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("hidden", [(), (4, 3)])
def test_rows_of_one_block_cut_into_parts_give_the_one_block_objective(
    cut_small_rows, hidden, sparse
):
    # A mini-batch that fits one block is cut into parts for the threads:
    # the same objective, its gradients added up part by part.
    layout, one_block, theta = _problem(hidden, n_samples=50, block_size=None)
    if sparse:
        one_block = _same_rows(one_block, X=sp.csr_matrix(one_block.X))
    executor = _CountingExecutor()
    cut = _same_rows(one_block, executor=executor)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(skmlp._evaluation.blocks, "MIN_PART_ROWS", 10**9)
        whole = _same_rows(one_block, executor=_CountingExecutor())
    loss, gradient = whole.value_and_gradient(theta)
    cut_loss, cut_gradient = cut.value_and_gradient(theta)
    assert whole.executor.parts == [1] and executor.parts == [8]
    assert cut_loss == pytest.approx(loss, rel=1e-13)
    assert cut.value(theta) == pytest.approx(loss, rel=1e-13)
    assert_allclose(cut_gradient, gradient, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("blocking", BLOCKINGS[:2])
def test_sparse_csr_input_gives_the_dense_objective(blocking):
    layout, dense, theta = _problem((4, 3), n_samples=40)
    X = dense.X.copy()
    X[np.abs(X) < 0.8] = 0.0  # about half the entries
    dense = _same_rows(dense, X=X, **blocking)
    sparse = _same_rows(dense, X=sp.csr_matrix(X), **blocking)
    loss, gradient = dense.value_and_gradient(theta)
    sparse_loss, sparse_gradient = sparse.value_and_gradient(theta)
    assert sparse_loss == pytest.approx(loss, rel=1e-13)
    assert sparse.value(theta) == pytest.approx(loss, rel=1e-13)
    assert_allclose(sparse_gradient, gradient, rtol=1e-12, atol=1e-16)
    coefs, intercepts = layout.unpack(theta)
    assert_allclose(
        forward_log_proba(coefs, intercepts, sp.csr_matrix(X), **blocking),
        forward_log_proba(coefs, intercepts, X, **blocking),
        rtol=1e-13,
    )


class _RecordingExecutor(ThreadedExecutor):
    """Two threads whatever the size of the work, recording the threads that
    ran the parts."""

    def __init__(self):
        super().__init__(n_threads=2, min_work=0)
        self.threads = set()

    def map(self, function, parts, cost=0):
        def recorded(part):
            self.threads.add(threading.current_thread())
            return function(part)

        return super().map(recorded, parts, cost)


def test_parts_on_threads_give_the_bits_of_the_serial_evaluation():
    # The problem is far below MIN_THREADED_WORK, where the default executor
    # runs serially too: the threaded one is told to thread anyway, and the
    # test checks that it did.
    _, serial, theta = _problem(
        (5, 4), n_samples=50, block_size=3, executor=ThreadedExecutor(n_threads=1)
    )
    with _RecordingExecutor() as threaded_executor:
        threaded = _same_rows(serial, block_size=3, executor=threaded_executor)
        loss, gradient = threaded.value_and_gradient(theta)
        assert threaded.value(theta) == loss
    assert threaded_executor.threads
    assert threading.main_thread() not in threaded_executor.threads
    serial_loss, serial_gradient = serial.value_and_gradient(theta)
    assert serial_loss == loss
    assert_array_equal(serial_gradient, gradient)


def _fresh_evaluation(objective, theta, **blocking):
    """value_and_gradient of a new objective on the same rows at ``theta``."""
    return _same_rows(objective, **blocking).value_and_gradient(theta.copy())


@pytest.mark.parametrize("blocking", BLOCKINGS[:2])
@pytest.mark.parametrize("sparse", [False, True])
def test_evaluations_in_any_order_give_what_a_fresh_objective_gives(blocking, sparse):
    # An objective keeps its buffers between calls, and its blocks of 7 rows
    # end with one of 1 (whose rows of ones overlap the others' numbers):
    # gradients, values and thetas changed in place, in any order, must not
    # see stale buffers.
    layout, objective, theta = _problem((5, 4), n_samples=50, **blocking)
    if sparse:
        X = objective.X.copy()
        X[np.abs(X) < 0.8] = 0.0
        objective = _same_rows(objective, X=sp.csr_matrix(X), **blocking)
    rng = np.random.RandomState(1)
    for _ in range(3):
        expected_loss, expected_gradient = _fresh_evaluation(
            objective, theta, **blocking
        )
        assert objective.value(theta) == expected_loss
        loss, gradient = objective.value_and_gradient(theta)
        assert loss == expected_loss
        assert_array_equal(gradient, expected_gradient)
        other = theta + rng.normal(scale=0.1, size=theta.shape)
        assert (
            objective.value(other) == _fresh_evaluation(objective, other, **blocking)[0]
        )
        # The same array, changed in place.
        theta -= 0.5 * gradient


@pytest.mark.parametrize("blocking", BLOCKINGS[:2])
@pytest.mark.parametrize("sparse", [False, True])
def test_an_objective_is_freed_as_soon_as_it_is_let_go(blocking, sparse):
    # Its rows and buffers go with its last reference, not at the next run
    # of the garbage collector: nothing of it is in a reference cycle (its
    # pools, blocks and workspaces included), however it was used.
    layout, objective, theta = _problem((5, 4), n_samples=50, **blocking)
    if sparse:
        objective = _same_rows(objective, X=sp.csr_matrix(objective.X), **blocking)
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        objective.value_and_gradient(theta)
        objective.value(theta)
        objective.set_rows(
            objective.X[:9], objective.y[:9], objective.sample_weight[:9]
        )
        objective.value_and_gradient(theta)
        coefs, intercepts = layout.unpack(theta)
        forward_log_proba(coefs, intercepts, objective.X, block_size=4)
        rows, freed = weakref.ref(objective.X), weakref.ref(objective)
        del objective
        assert freed() is None
        assert rows() is None
    finally:
        if enabled:
            gc.enable()


@pytest.mark.parametrize("cut", [False, True])
@pytest.mark.parametrize("blocking", BLOCKINGS[:2])
def test_set_rows_gives_the_objective_of_the_new_rows(blocking, cut, request):
    # A mini-batch epoch moves one objective from batch to batch, keeping
    # its buffers: batches of 20, 5 and 30 rows (more than the buffers were
    # made for) with other weight sums, then sparse rows, must each give
    # what a fresh objective of those rows gives. With rows of one block
    # cut into parts of 6 rows or more, the first 20 rows are 3 parts, and
    # the batches of 5, 30 and 50 rows one, 5 and 8 parts, whose blocks are
    # shorter than the buffers.
    if cut:
        request.getfixturevalue("cut_small_rows")
    layout, objective, theta = _problem((5, 4), n_samples=50)
    X, y, weight = objective.X, objective.y, objective.sample_weight
    moving = Objective(layout, X[:20], y[:20], weight[:20], 0.3, **blocking)
    moving.value_and_gradient(theta)
    batches = [slice(20, 25), slice(5, 35), slice(0, 50)]
    for rows, sparse in [(batch, False) for batch in batches] + [(batches[1], True)]:
        X_rows = sp.csr_matrix(X[rows]) if sparse else X[rows]
        moving.set_rows(X_rows, y[rows], weight[rows])
        fresh = Objective(layout, X_rows, y[rows], weight[rows], 0.3, **blocking)
        assert moving.weight_sum == fresh.weight_sum
        loss, gradient = moving.value_and_gradient(theta)
        expected_loss, expected_gradient = fresh.value_and_gradient(theta)
        assert loss == expected_loss
        assert_array_equal(gradient, expected_gradient)
        assert moving.value(theta) == expected_loss


def test_set_rows_copies_the_rows_so_later_changes_do_not_matter():
    # The rows of a one-block objective are copied when they are set: the
    # caller may reuse its array (as a loop over batches may).
    layout, objective, theta = _problem((5,), n_samples=30)
    X = objective.X.copy()
    moving = _same_rows(objective, X=X)
    expected = moving.value_and_gradient(theta)
    X[...] = 0.0
    loss, gradient = moving.value_and_gradient(theta)
    assert loss == expected[0]
    assert_array_equal(gradient, expected[1])


def _multilabel_problem(hidden, n_samples=23, alpha=0.3, **options):
    from skmlp._math.datafits import MultilabelLogistic

    rng = np.random.RandomState(0)
    layout = ParameterLayout((N_FEATURES, *hidden, N_CLASSES))
    theta = layout.initialize(rng, np.float64)
    X = rng.normal(size=(n_samples, N_FEATURES))
    Y = (rng.uniform(size=(n_samples, N_CLASSES)) < 0.4).astype(int)
    weight = rng.uniform(0.2, 3.0, size=n_samples)
    datafit = MultilabelLogistic()
    objective = Objective(layout, X, Y, weight, alpha, datafit=datafit, **options)
    return layout, objective, theta


@pytest.mark.parametrize("hidden", [(), (5, 4)])
def test_multilabel_logistic_datafit_is_the_binary_cross_entropy_summed_over_labels(
    hidden,
):
    # A second datafit plugs into the same objective: the loss written out
    # with the logistic function, and its gradient by central differences.
    from scipy.special import expit

    layout, objective, theta = _multilabel_problem(hidden)
    coefs, intercepts = layout.unpack(theta)
    a = objective.X
    for layer, (W, b) in enumerate(zip(coefs, intercepts)):
        z = a @ W + b
        a = z if layer == len(coefs) - 1 else np.logaddexp(0.0, z)
    p, Y, w = expit(a), objective.y, objective.sample_weight
    per_row = -(Y * np.log(p) + (1 - Y) * np.log(1 - p)).sum(axis=1)
    penalty = 0.3 / 2 * sum(float(np.sum(W**2)) for W in coefs)
    expected = (np.dot(w, per_row) + penalty) / w.sum()
    assert objective.value(theta) == pytest.approx(expected, rel=1e-12)

    loss, gradient = objective.value_and_gradient(theta)
    assert loss == pytest.approx(expected, rel=1e-12)
    numerical = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = 1e-6
        numerical[i] = (
            objective.value(theta + step) - objective.value(theta - step)
        ) / 2e-6
    assert np.linalg.norm(gradient - numerical) / np.linalg.norm(numerical) < 1e-8

    log_proba = forward_log_proba(
        coefs, intercepts, objective.X, datafit=objective.datafit
    )
    assert_allclose(log_proba, np.log(p), rtol=1e-12)


def test_multilabel_objective_in_blocks_equals_one_block():
    _, one_block, theta = _multilabel_problem((5,), n_samples=50)
    _, blocked, _ = _multilabel_problem((5,), n_samples=50, block_size=7)
    loss, gradient = one_block.value_and_gradient(theta)
    blocked_loss, blocked_gradient = blocked.value_and_gradient(theta)
    assert blocked_loss == pytest.approx(loss, rel=1e-13)
    assert_allclose(blocked_gradient, gradient, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_bound_is_above_the_loss_and_fails_on_a_non_finite_theta(sparse, dtype):
    layout, objective, theta = _problem((5,), n_samples=40, dtype=dtype)
    X = objective.X.copy()
    X[X < 0.3] = 0
    objective = _same_rows(objective, X=sp.csr_matrix(X) if sparse else X)
    for scale in (0.1, 1.0, 10.0, 100.0):
        bound = objective.loss_bound(theta * scale)
        assert objective.value(theta * scale) <= bound < np.inf
    # Within a factor of a hundred of the loss for these weights: a bound
    # the training loop can use.
    assert objective.loss_bound(theta) < 100 * objective.value(theta)
    for bad in (np.inf, np.nan):
        broken = theta.copy()
        broken[0] = bad
        with np.errstate(invalid="ignore", over="ignore"):
            assert not objective.loss_bound(broken) <= 1e300


def test_loss_bound_of_labels_is_above_their_loss():
    rng = np.random.RandomState(0)
    layout = ParameterLayout((N_FEATURES, 5, N_CLASSES))
    theta = layout.initialize(rng, np.float64) * 5
    X = rng.normal(size=(30, N_FEATURES))
    Y = rng.randint(2, size=(30, N_CLASSES))
    objective = Objective(layout, X, Y, np.ones(30), 0.1, datafit=MultilabelLogistic())
    assert objective.value(theta) <= objective.loss_bound(theta) < np.inf
