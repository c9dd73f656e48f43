"""Worker threads: results that do not depend on their number, BLAS limits."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info, threadpool_limits

import skmlp._execution
import skmlp._objective
from skmlp import SoftplusMLPClassifier
from skmlp._execution import SingleThreadedBlas
from skmlp._layout import ParameterLayout
from skmlp._objective import Objective, forward_log_proba

# 1100 rows are three chunks of 512 rows, the last one short.
X, Y = make_classification(
    n_samples=1100, n_features=12, n_informative=6, n_classes=3, random_state=0
)


def _blas_threads():
    return [
        info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"
    ]


@pytest.fixture
def two_threads(monkeypatch):
    """Two BLAS threads, hence two workers, even for the small problems of
    these tests; skip where BLAS cannot have two."""
    monkeypatch.setattr(skmlp._execution, "MIN_THREADED_WORK", 0)
    if not _blas_threads():
        pytest.skip("threadpoolctl finds no BLAS library to read the limit from")
    with threadpool_limits(2, user_api="blas"):
        if max(_blas_threads()) < 2:
            pytest.skip("BLAS runs at most one thread here")
        yield


@pytest.fixture
def threaded_calls(monkeypatch):
    """The number of times the chunks of a call ran on several threads."""
    calls = []
    real = skmlp._execution._run_threads

    def counting(n_threads, *args):
        calls.append(n_threads)
        return real(n_threads, *args)

    monkeypatch.setattr(skmlp._execution, "_run_threads", counting)
    return calls


def _fit(X, dtype=np.float64, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SoftplusMLPClassifier(
            hidden_layer_sizes=(24, 8), max_iter=5, random_state=0, **params
        ).fit(X.astype(dtype), Y)


def _assert_same_model(a, b):
    assert a.loss_curve_ == b.loss_curve_
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_array_equal(wa, wb)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_fit_on_one_and_two_threads_gives_identical_weights(
    two_threads, threaded_calls, solver, dtype
):
    on_two = _fit(X, dtype, solver=solver)
    n_threaded = len(threaded_calls)
    assert n_threaded and set(threaded_calls) == {2}
    with threadpool_limits(1, user_api="blas"):
        on_one = _fit(X, dtype, solver=solver)
    assert len(threaded_calls) == n_threaded
    _assert_same_model(on_one, on_two)


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_minibatch_fit_on_one_and_two_threads_gives_identical_weights(
    two_threads, threaded_calls, solver
):
    # Batches of 700 rows are two chunks, run on two threads, and one of
    # 400; one objective moves from batch to batch with its buffers.
    on_two = _fit(X, solver=solver, batch_size=700)
    assert threaded_calls and set(threaded_calls) == {2}
    with threadpool_limits(1, user_api="blas"):
        on_one = _fit(X, solver=solver, batch_size=700)
    _assert_same_model(on_one, on_two)


def test_sparse_fit_on_one_and_two_threads_gives_identical_weights(
    two_threads, threaded_calls
):
    X_sparse = sp.csr_matrix(np.where(np.abs(X) > 0.7, X, 0.0))
    on_two = _fit(X_sparse)
    assert threaded_calls
    with threadpool_limits(1, user_api="blas"):
        on_one = _fit(X_sparse)
    _assert_same_model(on_one, on_two)


@pytest.mark.parametrize(
    "chunk_size, hidden, alpha",
    [(7, (16, 5), 0.1), (64, (16, 5), 0.1), (1100, (16, 5), 0.1), (512, (1024,), 1e4)],
)
def test_objective_and_log_proba_do_not_depend_on_the_number_of_threads(
    monkeypatch, two_threads, chunk_size, hidden, alpha
):
    # Many chunks (7 rows), a few, and one; with sample weights and a
    # penalty, which the sums of the partial results carry. The wide layer
    # has 12288 weights, whose sum of squares OpenBLAS would split between
    # its threads (it does so for dot products of more than 10000 numbers),
    # changing its rounding; the large alpha makes that sum the loss.
    monkeypatch.setattr(skmlp._objective, "CHUNK_SIZE", chunk_size)
    # Seed 1: with seed 0 the two sums of squares happen to round alike.
    rng = np.random.RandomState(1)
    network = ParameterLayout((X.shape[1], *hidden, 3))
    theta = network.initialize(rng, np.float64)
    weight = rng.uniform(0.5, 2.0, len(Y))
    objective = Objective(network, X, Y, weight, alpha)
    loss, gradient = objective.value_and_gradient(theta)
    value = objective.value(theta)
    log_proba = forward_log_proba(*network.unpack(theta), X)
    with threadpool_limits(1, user_api="blas"):
        serial = Objective(network, X, Y, weight, alpha)
        serial_loss, serial_gradient = serial.value_and_gradient(theta)
        assert serial.value(theta) == value
        assert_array_equal(forward_log_proba(*network.unpack(theta), X), log_proba)
    assert serial_loss == loss == value
    assert_array_equal(serial_gradient, gradient)


def test_a_loop_within_single_threaded_blas_passes_the_thread_count_on(
    two_threads, threaded_calls
):
    network = ParameterLayout((X.shape[1], 16, 3))
    theta = network.initialize(np.random.RandomState(0), np.float64)
    with SingleThreadedBlas() as n_threads:
        assert n_threads == 2
        assert set(_blas_threads()) == {1}
        objective = Objective(network, X, Y, np.ones(len(Y)), 0.1, n_threads)
        loss, gradient = objective.value_and_gradient(theta)
        log_proba = forward_log_proba(*network.unpack(theta), X, n_threads)
    assert threaded_calls == [2, 2]
    assert set(_blas_threads()) == {2}
    with threadpool_limits(1, user_api="blas"):
        serial = Objective(network, X, Y, np.ones(len(Y)), 0.1)
        serial_loss, serial_gradient = serial.value_and_gradient(theta)
        assert_array_equal(forward_log_proba(*network.unpack(theta), X), log_proba)
    assert serial_loss == loss
    assert_array_equal(serial_gradient, gradient)


def test_blas_limit_of_one_runs_serially(monkeypatch, threaded_calls):
    monkeypatch.setattr(skmlp._execution, "MIN_THREADED_WORK", 0)
    with threadpool_limits(1, user_api="blas"):
        _fit(X)
    assert threaded_calls == []


def test_calls_with_little_work_run_serially(two_threads, monkeypatch, threaded_calls):
    # 1100 rows x (12*24 + 24*8 + 8*3) multiply-adds: 554400.
    monkeypatch.setattr(skmlp._execution, "MIN_THREADED_WORK", 554401)
    _fit(X)
    assert threaded_calls == []
    monkeypatch.setattr(skmlp._execution, "MIN_THREADED_WORK", 554400)
    _fit(X)
    assert threaded_calls


def test_chunks_run_with_single_threaded_blas_and_the_limit_comes_back(
    monkeypatch, two_threads
):
    seen = []
    real = skmlp._objective._forward

    def recording(*args):
        seen.extend(_blas_threads())
        return real(*args)

    monkeypatch.setattr(skmlp._objective, "_forward", recording)
    before = _blas_threads()
    _fit(X)
    assert seen and set(seen) == {1}
    assert _blas_threads() == before


@pytest.mark.parametrize("failing_rows", [512, 76])
def test_an_error_in_a_chunk_reaches_the_caller_and_restores_blas(
    monkeypatch, two_threads, failing_rows
):
    # Chunks of 512 rows fail on both threads; the last, short one on one.
    real = skmlp._objective._forward

    def failing(chunk, layers, logits):
        if logits.shape[1] == failing_rows:
            raise FloatingPointError(f"a chunk of {failing_rows} rows")
        return real(chunk, layers, logits)

    monkeypatch.setattr(skmlp._objective, "_forward", failing)
    network = ParameterLayout((X.shape[1], 16, 3))
    theta = network.initialize(np.random.RandomState(0), np.float64)
    objective = Objective(network, X, Y, np.ones(len(Y)), alpha=0.0)
    before = _blas_threads()
    with pytest.raises(FloatingPointError, match=f"a chunk of {failing_rows} rows"):
        objective.value_and_gradient(theta)
    assert _blas_threads() == before


def test_a_fit_inside_single_threaded_blas_still_uses_the_threads(
    two_threads, threaded_calls
):
    # The estimator runs its loop inside the context, and its evaluations
    # enter it again: they must still see the outer limit of two.
    _fit(X)
    assert threaded_calls and set(threaded_calls) == {2}
