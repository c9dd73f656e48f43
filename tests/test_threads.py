"""Threads: results that do not depend on their number or on other threads,
BLAS limits, and the executors."""

import concurrent.futures
import contextlib
import gc
import importlib
import itertools
import os
import subprocess
import sys
import threading
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info, threadpool_limits
from tracing import SignalPoints, interrupt_at_call

import skmlp._evaluation.blocks
import skmlp._evaluation.execution
import skmlp._evaluation.objective
import skmlp._mlp
from skmlp import SoftplusMLPClassifier
from skmlp._evaluation.blocks import forward_log_proba
from skmlp._evaluation.execution import (
    MIN_THREADED_WORK,
    SingleThreadedBlas,
    ThreadedExecutor,
    blas_thread_limit,
)
from skmlp._evaluation.objective import Objective
from skmlp._math.datafits import SoftmaxCrossEntropy
from skmlp._math.layout import ParameterLayout

# 2200 rows are five blocks of 512 rows, the last one short; with 12 inputs
# and hidden layers of 256 and 8 units an evaluation has 11 million
# multiply-adds, enough to run on threads.
X, Y = make_classification(
    n_samples=2200, n_features=12, n_informative=6, n_classes=3, random_state=0
)
HIDDEN = (256, 8)


def _blas_threads():
    return [
        info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"
    ]


@pytest.fixture
def two_threads():
    """A BLAS limit of two, hence two workers; skip where BLAS cannot have
    two, but fail in CI (``CI`` set, as ``.ci/run`` runs), whose machine has
    two cores: a skip there would hide that no thread test ran."""
    if not _blas_threads():
        _cannot_run_threads("threadpoolctl finds no BLAS library to read its limit")
    with threadpool_limits(2, user_api="blas"):
        if max(_blas_threads()) < 2:
            _cannot_run_threads("BLAS runs at most one thread here")
        yield


def _cannot_run_threads(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: the thread tests cannot run, and CI requires them")
    pytest.skip(reason)


@pytest.fixture
def pools(monkeypatch):
    """The number of threads of every thread pool started."""
    sizes = []
    real = concurrent.futures.ThreadPoolExecutor.__init__

    def recording(self, max_workers=None, *args, **kwargs):
        sizes.append(max_workers)
        real(self, max_workers, *args, **kwargs)

    monkeypatch.setattr(concurrent.futures.ThreadPoolExecutor, "__init__", recording)
    return sizes


class RecordingDatafit(SoftmaxCrossEntropy):
    """The softmax cross-entropy, noting the thread and the BLAS limits of
    each block, and failing on blocks of ``failing_rows`` rows.

    With ``together=n``, the first ``n`` blocks wait for each other, so
    that ``n`` threads run, however busy the machine: a thread pool starts
    a thread only when it has none idle, and a thread that finished its
    first part before the next part came (the caller descheduled between
    the two) would otherwise take that part too.
    """

    def __init__(self, failing_rows=None, together=0):
        self.threads, self.blas, self.failing_rows = set(), set(), failing_rows
        self.together = threading.Barrier(together, timeout=10) if together else None
        self.blocks = itertools.count()

    def loss(self, z, *args, **kwargs):
        self.threads.add(threading.get_ident())
        if self.together and next(self.blocks) < self.together.parties:
            self.together.wait()
        self.blas.update(_blas_threads())
        if z.shape[1] == self.failing_rows:
            raise FloatingPointError(f"a block of {self.failing_rows} rows")
        return super().loss(z, *args, **kwargs)


def _fit(X, dtype=np.float64, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SoftplusMLPClassifier(
            **{"hidden_layer_sizes": HIDDEN, "max_iter": 4, "random_state": 0, **params}
        ).fit(X.astype(dtype), Y)


def _assert_same_model(a, b):
    assert a.loss_curve_ == b.loss_curve_
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_array_equal(wa, wb)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_fit_on_one_and_two_threads_gives_identical_weights(
    two_threads, pools, solver, dtype
):
    on_two = _fit(X, dtype, solver=solver)
    # One pool of two threads serves the whole fit.
    assert pools == [2]
    with threadpool_limits(1, user_api="blas"):
        on_one = _fit(X, dtype, solver=solver)
    assert pools == [2]
    _assert_same_model(on_one, on_two)


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_minibatch_fit_on_one_and_two_threads_gives_identical_weights(
    two_threads, pools, solver
):
    # Batches of 1700 rows are four blocks, run on two threads, and one of
    # 500; one objective moves from batch to batch with its buffers.
    on_two = _fit(X, solver=solver, batch_size=1700)
    assert pools == [2]
    with threadpool_limits(1, user_api="blas"):
        on_one = _fit(X, solver=solver, batch_size=1700)
    _assert_same_model(on_one, on_two)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_minibatches_of_one_block_run_on_two_threads_with_identical_weights(
    two_threads, pools, monkeypatch, solver, dtype
):
    # Batches of 256 rows fit one block; with hidden layers of 300 and 128
    # units a row costs 42384 multiply-adds, so each batch is cut into two
    # parts of 128 rows, which run on the two threads: the weights are
    # those of one thread, where the same parts run one after the other.
    # The first blocks of the fit wait for each other, so that both
    # threads run them however busy the machine.
    params = {"hidden_layer_sizes": (300, 128), "solver": solver, "batch_size": 256}
    datafit = RecordingDatafit(together=2)
    with monkeypatch.context() as patch:
        patch.setitem(skmlp._mlp.DATAFITS, "softmax", lambda: datafit)
        on_two = _fit(X, dtype, max_iter=3, **params)
    # (The last batch, of 152 rows, is one part, on the calling thread.)
    assert pools == [2]
    assert len(datafit.threads - {threading.get_ident()}) == 2
    with threadpool_limits(1, user_api="blas"):
        on_one = _fit(X, dtype, max_iter=3, **params)
    _assert_same_model(on_one, on_two)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_fit_keeps_its_threads_for_all_its_evaluations_then_lets_them_go(
    two_threads, early_stopping
):
    # Four epochs are at least five evaluations of the objective (with early
    # stopping, four predictions on the validation rows too, 2200 rows: on
    # threads), all on the same two threads, which are gone when fit
    # returns.
    started = set()

    def note_the_thread(*args):
        # Called at every call in a thread started meanwhile: a set.
        started.add(threading.current_thread())

    threading.settrace(note_the_thread)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            SoftplusMLPClassifier(
                hidden_layer_sizes=HIDDEN,
                max_iter=4,
                random_state=0,
                early_stopping=early_stopping,
                validation_fraction=0.5,
            ).fit(np.vstack([X, X]), np.hstack([Y, Y]))
    finally:
        threading.settrace(None)
    assert len(started) == 2
    for thread in started:
        thread.join(timeout=10)
        assert not thread.is_alive()


def test_an_executor_runs_every_call_on_the_same_threads_until_closed(two_threads):
    # The first two parts of each call wait for each other: two threads run,
    # even on a machine so busy that one thread could take every part.
    together = threading.Barrier(2, timeout=10)

    def thread(k):
        if k < 2:
            together.wait()
        return threading.current_thread()

    with ThreadedExecutor(min_work=0) as executor:
        first = set(executor.map(thread, range(6)))
        second = set(executor.map(thread, range(6)))
        assert len(first) == 2 and second == first
    for worker in first:
        worker.join(timeout=10)
        assert not worker.is_alive()
    # Closed, it makes new threads if called again.
    again = set(executor.map(thread, range(6)))
    assert again.isdisjoint(first)
    executor.close()


def test_calls_of_fewer_parts_than_threads_keep_the_threads():
    # Four threads allowed: calls of 6, 3 and 6 parts (mini-batches of
    # different sizes) run on threads of one pool, not on a new pool for
    # each number of parts; no call uses more threads than it has parts.
    barrier = threading.Barrier(3, timeout=10)

    def thread(k):
        if k < 3:
            barrier.wait()  # the first three parts run at once
        return threading.current_thread()

    with ThreadedExecutor(n_threads=4, min_work=0) as executor:
        first = set(executor.map(thread, range(6)))
        small = set(executor.map(lambda _: threading.current_thread(), range(3)))
        again = set(executor.map(thread, range(6)))
        assert len(first) >= 3 and len(small) <= 3
        # A pool for each number of parts would have made 7 or more.
        assert len(first | small | again) <= 4


def test_a_part_that_fails_stops_the_call_and_the_threads_serve_the_next(
    two_threads,
):
    # The parts after the failing one are not started; the next call runs
    # in full on the same threads.
    ran = []

    def part(k):
        threading.Event().wait(0.005)
        ran.append(k)
        if k == 1:
            raise ValueError("part 1")
        return k

    with ThreadedExecutor(min_work=0) as executor:
        with pytest.raises(ValueError, match="part 1"):
            list(executor.map(part, range(20)))
        assert len(ran) <= 4
        ran.clear()
        assert list(executor.map(part, range(2, 8))) == list(range(2, 8))


@pytest.mark.parametrize(
    "function, at_call, module",
    [
        ("value_and_gradient", 3, "_evaluation.objective"),
        ("give", 12, "_evaluation.blocks"),
    ],
)
def test_a_ctrl_c_in_a_threaded_fit_keeps_the_last_epoch_and_ends_the_threads(
    two_threads, function, at_call, module
):
    # Ctrl-C in the main thread as the third evaluation starts, or while it
    # takes the parts' results back (the 12th hand-back: the third
    # evaluation's second of five parts), with parts still running on the
    # workers: the model of the second epoch is kept, as fit(max_iter=2)
    # makes it, and the workers end with the call.
    started = set()

    def note_the_thread(*args):
        started.add(threading.current_thread())

    clf = SoftplusMLPClassifier(
        hidden_layer_sizes=HIDDEN, solver="gd", max_iter=6, random_state=0
    )
    threading.settrace(note_the_thread)
    try:
        with pytest.warns(UserWarning, match="interrupted"):
            where = importlib.import_module(f"skmlp.{module}").__file__
            with interrupt_at_call(function, at_call, where):
                clf.fit(X, Y)
    finally:
        threading.settrace(None)
    assert clf.n_iter_ == 2
    _assert_same_model(clf, _fit(X, solver="gd", max_iter=2))
    assert len(started) == 2
    for thread in started:
        thread.join(timeout=10)
        assert not thread.is_alive()


def test_sparse_fit_on_one_and_two_threads_gives_identical_weights(two_threads, pools):
    X_sparse = sp.csr_matrix(np.where(np.abs(X) > 0.7, X, 0.0))
    on_two = _fit(X_sparse)
    assert pools
    with threadpool_limits(1, user_api="blas"):
        on_one = _fit(X_sparse)
    _assert_same_model(on_one, on_two)


@pytest.mark.parametrize(
    "block_size, hidden, alpha",
    [(7, (16, 5), 0.1), (64, (16, 5), 0.1), (2200, (16, 5), 0.1), (512, (1024,), 1e4)],
)
def test_objective_and_log_proba_do_not_depend_on_the_number_of_threads(
    two_threads, block_size, hidden, alpha
):
    # Many blocks (7 rows, in 8 parts), a few, and one; with sample weights
    # and a penalty, which the sums of the partial results carry. The wide
    # layer has 12288 weights, whose sum of squares OpenBLAS would split
    # between its threads (it does so for dot products of more than 10000
    # numbers), changing its rounding; the large alpha makes that sum the
    # loss.
    rng = np.random.RandomState(1)
    layout = ParameterLayout((X.shape[1], *hidden, 3))
    theta = layout.initialize(rng, np.float64)
    weight = rng.uniform(0.5, 2.0, len(Y))
    results = []
    # On two threads, and on one (the calling thread).
    for executor in (ThreadedExecutor(min_work=0), ThreadedExecutor(1, min_work=0)):
        threaded = executor.n_threads is None and block_size != 2200
        datafit = RecordingDatafit(together=2 if threaded else 0)
        options = dict(block_size=block_size, executor=executor, datafit=datafit)
        objective = Objective(layout, X, Y, weight, alpha, **options)
        loss, gradient = objective.value_and_gradient(theta)
        assert objective.value(theta) == loss
        log_proba = forward_log_proba(*layout.unpack(theta), X, **options)
        results.append((loss, gradient, log_proba, len(datafit.threads)))
    (loss, gradient, log_proba, threads), (loss1, gradient1, log_proba1, one) = results
    # The executor runs the three calls on the same two threads (one block:
    # on the calling thread).
    assert threads == (1 if block_size == 2200 else 2) and one == 1
    assert loss == loss1
    assert_array_equal(gradient, gradient1)
    assert_array_equal(log_proba, log_proba1)


def test_a_loop_within_single_threaded_blas_passes_the_thread_count_on(
    two_threads, pools
):
    layout = ParameterLayout((X.shape[1], *HIDDEN, 3))
    theta = layout.initialize(np.random.RandomState(0), np.float64)
    with SingleThreadedBlas() as n_threads:
        assert n_threads == 2
        assert set(_blas_threads()) == {1}
        objective = Objective(layout, X, Y, np.ones(len(Y)), 0.1, n_threads)
        loss, gradient = objective.value_and_gradient(theta)
        log_proba = forward_log_proba(*layout.unpack(theta), X, n_threads)
    assert pools == [2, 2]
    assert set(_blas_threads()) == {2}
    with threadpool_limits(1, user_api="blas"):
        serial = Objective(layout, X, Y, np.ones(len(Y)), 0.1)
        serial_loss, serial_gradient = serial.value_and_gradient(theta)
        assert_array_equal(forward_log_proba(*layout.unpack(theta), X), log_proba)
    assert serial_loss == loss
    assert_array_equal(serial_gradient, gradient)


def test_blas_limit_of_one_runs_serially(pools):
    with threadpool_limits(1, user_api="blas"):
        _fit(X)
    assert pools == []


def test_calls_with_little_work_run_on_the_calling_thread(two_threads):
    def thread(_):
        return threading.get_ident()

    executor = ThreadedExecutor()
    parts = range(4)
    small = set(executor.map(thread, parts, MIN_THREADED_WORK - 1))
    assert small == {threading.get_ident()}
    large = list(executor.map(thread, parts, MIN_THREADED_WORK))
    assert threading.get_ident() not in large and len(set(large)) <= 2


def test_executors_hand_the_results_back_in_the_order_of_the_parts(two_threads):
    # Parts that finish in the reverse order of their start.
    def part(k):
        threading.Event().wait(0.002 * (10 - k))
        return k

    for executor in (ThreadedExecutor(min_work=0), ThreadedExecutor(1, min_work=0)):
        assert list(executor.map(part, range(10))) == list(range(10))


def test_at_most_one_part_more_than_threads_is_held_at_once(two_threads):
    # The memory bound: a part's result (a gradient) exists from its start
    # until the caller takes it. A slow caller lets the threads run ahead as
    # far as the executor allows: two threads, and one part queued.
    lock = threading.Lock()
    started, taken, most = [0], [0], [0]

    def part(k):
        with lock:
            started[0] += 1
            most[0] = max(most[0], started[0] - taken[0])
        return k

    results = []
    for k in ThreadedExecutor(min_work=0).map(part, range(12)):
        threading.Event().wait(0.01)
        with lock:
            taken[0] += 1
        results.append(k)
    assert results == list(range(12))
    assert most[0] == 3


def test_memory_of_an_evaluation_on_two_threads_is_bounded(two_threads):
    # A network of a million parameters (8 MB gradients) and blocks of 8 rows
    # (buffers of a quarter of a megabyte): 16 blocks, in 8 parts of two,
    # which add a block's gradient through a scratch as large. On two
    # threads: two running parts with their scratch and gradient, one part
    # queued, the gradient returned and the penalty's factors (a vector of
    # the parameters' size): 7 gradients' worth. A scratch per part
    # gradient would make it 8; all the parts at once, 18.
    rng = np.random.RandomState(0)
    layout = ParameterLayout((1000, 1000, 3))
    X_wide = rng.standard_normal((128, 1000))
    y = np.arange(128) % 3
    theta = layout.initialize(rng, np.float64)
    gradient_bytes = layout.n_params * 8
    tracemalloc.start()
    try:
        objective = Objective(layout, X_wide, y, np.ones(128), 0.1, block_size=8)
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        objective.value_and_gradient(theta)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (peak - before) / gradient_bytes < 7.5


def test_blocks_run_with_single_threaded_blas_and_the_limit_comes_back(two_threads):
    layout = ParameterLayout((X.shape[1], *HIDDEN, 3))
    theta = layout.initialize(np.random.RandomState(0), np.float64)
    datafit = RecordingDatafit(together=2)
    before = _blas_threads()
    Objective(layout, X, Y, np.ones(len(Y)), 0.1, datafit=datafit).value(theta)
    assert len(datafit.threads) == 2 and datafit.blas == {1}
    assert threading.get_ident() not in datafit.threads
    assert _blas_threads() == before


def test_the_limits_come_back_after_a_fit_beside_predictions_in_a_thread(two_threads):
    # Training in the main thread while another thread serves predictions:
    # the last context to close was often a prediction's, in a thread whose
    # limit this OpenBLAS ignores, and the process stayed at one BLAS thread
    # after every call had returned. The main thread now sets them back.
    clf = SoftplusMLPClassifier((50,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, Y)
    before = _blas_threads()
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            clf.predict_proba(X)

    server = threading.Thread(target=serve)
    server.start()
    try:
        for _ in range(3):
            clf.partial_fit(X, Y)
    finally:
        stop.set()
        server.join()
    assert _blas_threads() == before
    # A prediction in a thread afterwards changes nothing either.
    thread = threading.Thread(target=clf.predict, args=(X,))
    thread.start()
    thread.join()
    assert _blas_threads() == before


@pytest.mark.parametrize("failing_rows", [512, 152])
def test_an_error_in_a_block_reaches_the_caller_and_restores_blas(
    two_threads, failing_rows
):
    # Blocks of 512 rows fail on both threads; the last, short one on one.
    layout = ParameterLayout((X.shape[1], *HIDDEN, 3))
    theta = layout.initialize(np.random.RandomState(0), np.float64)
    datafit = RecordingDatafit(failing_rows)
    objective = Objective(layout, X, Y, np.ones(len(Y)), 0.0, datafit=datafit)
    before = _blas_threads()
    with pytest.raises(FloatingPointError, match=f"a block of {failing_rows} rows"):
        objective.value_and_gradient(theta)
    assert _blas_threads() == before


def test_single_threaded_blas_is_process_wide(two_threads):
    # A context opened and closed by another thread (a prediction) while
    # this one's is open (a fit) neither gives this one a limit of 1 nor
    # gives BLAS its threads back halfway through; the last one out does.
    entered, release, left = threading.Event(), threading.Event(), threading.Event()

    def other_thread():
        with SingleThreadedBlas():
            entered.set()
            release.wait(10)
        left.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    try:
        assert entered.wait(10)
        with SingleThreadedBlas() as n_threads:
            assert n_threads == 2
            release.set()
            assert left.wait(10)
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {2}
    finally:
        release.set()
        thread.join()


def _nested_contexts():
    with SingleThreadedBlas():
        with SingleThreadedBlas():
            pass


def _small_fit():
    # A fit's own context, its evaluations' nested in it, and a prediction's
    # on the validation rows.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SoftplusMLPClassifier(
            hidden_layer_sizes=(4,), max_iter=2, early_stopping=True, random_state=0
        ).fit(X[:200], Y[:200])


@contextlib.contextmanager
def _context_in_another_thread():
    """Another thread holds a SingleThreadedBlas context while the block
    runs, and leaves it after."""
    entered, release = threading.Event(), threading.Event()

    def hold():
        with SingleThreadedBlas():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert entered.wait(10)
        yield
    finally:
        release.set()
        thread.join()


@pytest.mark.parametrize("other_thread", [False, True], ids=["alone", "beside"])
@pytest.mark.parametrize("scenario", [_nested_contexts, _small_fit])
def test_a_ctrl_c_anywhere_in_single_threaded_blas_leaves_later_fits_limited(
    two_threads, scenario, other_thread
):
    # Ctrl-C at each point of skmlp/_evaluation/execution.py where a real one can land
    # (entering and leaving the contexts included), once per run; beside:
    # while another thread holds a context of its own, which it leaves
    # after the interrupted run. Then, once the interrupt is handled and let
    # go, a new context limits BLAS to one thread again and gives the
    # user's limit, and the last context to close sets the limit back.
    files = [Path(skmlp._evaluation.execution.__file__)]
    around = _context_in_another_thread if other_thread else contextlib.nullcontext
    counter = SignalPoints(files)
    with around(), counter():
        scenario()
    assert counter.count > 10
    for point in range(1, counter.count + 1):
        with around():
            with pytest.raises(KeyboardInterrupt):
                with SignalPoints(files, interrupt_at=point)():
                    scenario()
                if scenario is _small_fit:
                    # The fit kept its finished epoch and warned instead.
                    raise KeyboardInterrupt
            gc.collect()
            if other_thread:
                with SingleThreadedBlas() as n_threads:
                    assert n_threads == 2, point
                    assert set(_blas_threads()) == {1}, point
                assert set(_blas_threads()) == {1}, point
        gc.collect()
        assert blas_thread_limit() == 2, point
        with SingleThreadedBlas() as n_threads:
            assert n_threads == 2, point
            assert set(_blas_threads()) == {1}, point
        assert set(_blas_threads()) == {2}, point


# A strong penalty, so that its last bits show in the loss; the adaptive
# steps of 'gd' and 'nag' reduce the gradient, the step and their changes.
@pytest.mark.parametrize(
    "params",
    [
        pytest.param(dict(solver="gd", learning_rate_init="auto"), id="gd-auto"),
        pytest.param(dict(solver="nag", learning_rate_init="auto"), id="nag-auto"),
        pytest.param(dict(solver="lbfgs"), id="lbfgs"),
    ],
)
def test_a_fit_does_not_depend_on_blas_threads_outside_the_products(
    two_threads, monkeypatch, params
):
    # Where the limit of SingleThreadedBlas does not take (OpenBLAS ignores
    # some set from another thread than the main one), the reductions over
    # all the parameters (the penalty, the step sizes and their tests,
    # L-BFGS's two loops) run with BLAS's threads, which would split the
    # dot products of the 16387 parameters here. The context is made
    # ineffective, and only the products of the row blocks run on one
    # thread (BLAS rounds those differently on two, and no other way of
    # computing them is as fast): the fit is the same on one and on two.
    monkeypatch.setattr(
        SingleThreadedBlas, "__enter__", lambda self: blas_thread_limit()
    )
    monkeypatch.setattr(SingleThreadedBlas, "__exit__", lambda self, *exc: None)
    block_sum = skmlp._evaluation.blocks.block_sum

    def on_one_thread(*args, **kwargs):
        with threadpool_limits(1, user_api="blas"):
            return block_sum(*args, **kwargs)

    monkeypatch.setattr(skmlp._evaluation.blocks, "block_sum", on_one_thread)
    fits = []
    for limit in (1, 2):
        with threadpool_limits(limit, user_api="blas"):
            assert set(_blas_threads()) == {limit}
            # 300 rows are one block, evaluated on this thread.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf = SoftplusMLPClassifier(
                    hidden_layer_sizes=(1024,),
                    alpha=10.0,
                    max_iter=8,
                    random_state=0,
                    **params,
                )
                fits.append(clf.fit(X[:300], Y[:300]))
    assert sum(w.size for w in fits[0].coefs_ + fits[0].intercepts_) == 16387
    _assert_same_model(*fits)


# The reproduction of the defect, run in a process of its own: some OpenBLAS
# builds ignore a thread limit set by another thread than the main one once
# the main one has set one, as this test session's has. predict_proba loops
# in a background thread during a mini-batch fit whose products OpenBLAS
# would split between its threads if it could; then a quiet fit.
PREDICTING_DURING_A_FIT = """
import sys, threading, warnings
import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits
from skmlp import SoftplusMLPClassifier

warnings.simplefilter("ignore", ConvergenceWarning)
X, y = make_classification(
    n_samples=1000, n_features=200, n_informative=10, n_classes=3, random_state=0
)
limit = None if sys.argv[1] == "None" else int(sys.argv[1])


def fit():
    with threadpool_limits(limit, user_api="blas"):
        return SoftplusMLPClassifier(
            hidden_layer_sizes=(512,), batch_size=500, max_iter=2, random_state=0
        ).fit(X, y)


predictor = SoftplusMLPClassifier(hidden_layer_sizes=(4,), max_iter=1)
fitting = threading.Thread(target=predictor.fit, args=(X, y))
fitting.start()
fitting.join()
stop = threading.Event()


def predict():
    while not stop.is_set():
        predictor.predict_proba(X[:20])


predicting = threading.Thread(target=predict)
predicting.start()
stop.wait(0.05)
try:
    noisy = fit()
finally:
    stop.set()
    predicting.join()
quiet = fit()
for a, b in zip(quiet.coefs_ + quiet.intercepts_, noisy.coefs_ + noisy.intercepts_):
    print(float(np.abs(a - b).max()))
"""


@pytest.mark.parametrize("limit", [None, 1])
def test_predictions_in_another_thread_do_not_change_the_bits_of_a_fit(limit):
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", PREDICTING_DURING_A_FIT, str(limit)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=True,
    )
    assert [float(line) for line in result.stdout.split()] == [0.0] * 4


class _PartsDatafit(SoftmaxCrossEntropy):
    """The softmax cross-entropy, noting the thread of each block and the
    BLAS limits that thread sees."""

    def __init__(self):
        self.seen = []

    def loss(self, z, *args, **kwargs):
        self.seen.append((threading.get_ident(), tuple(_blas_threads())))
        return super().loss(z, *args, **kwargs)


def _evaluate_in_a_thread(layout, theta):
    """Evaluate the objective in another thread, as a fit of a threaded
    search does; returns that thread and what its blocks saw."""
    found = {}

    def evaluate():
        datafit = _PartsDatafit()
        objective = Objective(
            layout,
            X,
            Y,
            np.ones(len(Y)),
            0.1,
            datafit=datafit,
            executor=ThreadedExecutor(min_work=0),
        )
        found["loss"] = objective.value_and_gradient(theta)[0]
        found["caller"], found["seen"] = threading.get_ident(), datafit.seen

    thread = threading.Thread(target=evaluate)
    thread.start()
    thread.join()
    return found


def test_parts_run_on_workers_only_while_blas_is_held_at_one(two_threads):
    # After a fit in the main thread, the limit of 1 that a fit in another
    # thread set did not take with this machine's OpenBLAS (it reported 2
    # threads there): the parts ran on two workers, each with BLAS's two
    # threads, and fits of a threaded search took 4 to 8 times as long as
    # the same fits one after the other. Where the limit does not hold, the
    # parts run on the calling thread, and BLAS's threads do the work.
    layout = ParameterLayout((X.shape[1], *HIDDEN, 3))
    theta = layout.initialize(np.random.RandomState(0), np.float64)
    before = _evaluate_in_a_thread(layout, theta)
    _fit(X)
    after = _evaluate_in_a_thread(layout, theta)
    for found in (before, after):
        assert len(found["seen"]) > 1  # the blocks of several parts
        for thread, blas in found["seen"]:
            assert thread == found["caller"] or set(blas) == {1}
    assert before["loss"] == after["loss"]


def test_a_limit_that_does_not_take_runs_the_parts_on_the_calling_thread(
    monkeypatch,
):
    # A BLAS that ignores the limit, whatever the thread: the parts of a
    # threaded call run on the calling thread, and the limit is set back.
    class Ignoring:
        num_threads = 2

        def set_num_threads(self, n_threads):
            pass

    monkeypatch.setattr(skmlp._evaluation.execution, "_libraries", [Ignoring()])

    def thread(_):
        return threading.get_ident()

    executor = ThreadedExecutor(min_work=0)
    with SingleThreadedBlas() as n_threads:
        assert n_threads == 2
        assert set(executor.map(thread, range(4))) == {threading.get_ident()}

    # One that obeys: the same call runs on the workers.
    class Obeying(Ignoring):
        def set_num_threads(self, n_threads):
            self.num_threads = n_threads

    monkeypatch.setattr(skmlp._evaluation.execution, "_libraries", [Obeying()])
    with SingleThreadedBlas():
        assert threading.get_ident() not in set(executor.map(thread, range(4)))
    executor.close()
