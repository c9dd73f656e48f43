"""Training one model on a Dask cluster: exact full-batch steps where the
rows are.

Every test runs on one two-worker cluster of processes bound to 127.0.0.1
(the test of rows that only a dying worker holds has a one-worker cluster of
its own), and with the conversion of a Dask array to NumPy in this process
(the client) made to fail: the rows must stay on the workers. The tests skip
when the ``dask`` extra is not installed.
"""

import contextlib
import io
import os
import resource
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils.fixes import parse_version

from skmlp import DivergenceError, SoftplusMLPClassifier, SoftplusMLPRegressor

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

# Uneven blocks: 1000 rows in blocks of 300, 300, 300 and 100.
BLOCK = 300
MEMORY_LIMIT = 2**30


@contextlib.contextmanager
def _local_client(n_workers):
    """A client of a new cluster of ``n_workers`` processes of one thread,
    the default client until it is closed."""
    with pytest.MonkeyPatch.context() as patch:
        # The rows stay in memory (not spilled to disk) on the workers,
        # which read their configuration from the environment: the test of
        # data larger than one worker's memory shows that they fit on the
        # cluster.
        patch.setenv("DASK_DISTRIBUTED__WORKER__MEMORY__TARGET", "False")
        patch.setenv("DASK_DISTRIBUTED__WORKER__MEMORY__SPILL", "False")
        cluster = distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit=MEMORY_LIMIT,
        )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        try:
            # Closing hung once with distributed 2024.2.1 (the oldest CI
            # environment), after every test had passed: a nanny waiting for
            # a worker that the fault tests had killed or restarted. A minute
            # is far more than a healthy close takes; past it the worker
            # processes, daemons, end with this one.
            cluster.close(timeout=60)
        except TimeoutError:
            pass


@pytest.fixture(scope="module")
def client():
    with _local_client(n_workers=2) as client:
        yield client


@pytest.fixture(autouse=True)
def rows_stay_on_the_cluster(monkeypatch):
    """Make this process fail to turn a Dask array into a NumPy one."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("a Dask array was converted to NumPy on the client")

    monkeypatch.setattr(da.Array, "__array__", refuse)
    monkeypatch.setattr(da.Array, "compute", refuse)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=1000, n_features=6, n_informative=4, n_redundant=0,
        n_classes=3, random_state=0,
    )  # fmt: skip
    X = StandardScaler().fit_transform(X)
    sample_weight = np.random.RandomState(1).uniform(0, 2, size=len(y))
    return X, y, sample_weight


@contextlib.contextmanager
def _new_tasks(client):
    """The tasks that the cluster finished during the ``with`` block, in a
    list filled as the block ends: those its task stream did not hold
    before. Not ``distributed.get_task_stream``, which selects the tasks by
    the times the workers report: with distributed 2024.2.1 it let in the
    last tasks of the fit before (24 steps instead of 12, one run in 12)."""
    before = {task["key"] for task in client.get_task_stream()}
    tasks = []
    yield tasks
    tasks.extend(task for task in client.get_task_stream() if task["key"] not in before)


def _on_cluster(*arrays):
    return [da.from_array(a, chunks=(BLOCK, *a.shape[1:])) for a in arrays]


def _clf(**params):
    params = {
        "hidden_layer_sizes": (5,),
        "max_iter": 25,
        "learning_rate_init": 0.3,
        "random_state": 0,
        **params,
    }
    return SoftplusMLPClassifier(**params)


def _fit(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


def assert_same_model(model, expected, tol=1e-10):
    assert model.n_iter_ == expected.n_iter_
    assert model.t_ == expected.t_
    assert_allclose(model.loss_curve_, expected.loss_curve_, rtol=tol, atol=0)
    for attribute in ("coefs_", "intercepts_"):
        for got, want in zip(getattr(model, attribute), getattr(expected, attribute)):
            assert_allclose(got, want, rtol=0, atol=tol)


@pytest.mark.parametrize(
    "solver_params",
    [
        {"solver": "gd"},
        {"solver": "gd", "learning_rate_init": "auto"},
        {"solver": "nag", "restart": None},
        {"solver": "nag", "restart": "function"},
        {"solver": "nag", "restart": "gradient"},
        {"solver": "nag", "learning_rate_init": "auto"},
        {"solver": "lbfgs"},
    ],
    ids=["gd", "gd-auto", "nag", "nag-function", "nag-gradient", "nag-auto", "lbfgs"],
)
def test_cluster_fit_equals_the_in_memory_fit(client, data, solver_params):
    X, y, sample_weight = data
    in_memory = _fit(_clf(**solver_params), X, y, sample_weight=sample_weight)
    on_cluster = _fit(
        _clf(**solver_params),
        *_on_cluster(X, y),
        sample_weight=_on_cluster(sample_weight)[0],
    )
    # The cluster adds its blocks' sums in another order than the threads of
    # an in-memory fit: the two differ by rounding, which a fixed step
    # carries along and the adaptive step of 'auto' rounds away (its steps
    # lie on a grid).
    assert_same_model(on_cluster, in_memory)
    assert on_cluster.learning_rate_ == pytest.approx(in_memory.learning_rate_)


def test_each_step_is_computed_by_the_workers_that_hold_the_blocks(client, data):
    X, y, _ = data
    with _new_tasks(client) as tasks:
        _fit(_clf(max_iter=3), *_on_cluster(X, y))
    steps = [task for task in tasks if "_block_sums" in str(task["key"])]
    # Three steps, each one task per block (4 blocks), on both workers. The
    # point that ends the call passes the divergence rule by a bound on its
    # loss, from the features' ranges the blocks reported: no step.
    assert len(steps) == 3 * 4
    assert {task["worker"] for task in steps} == set(client.scheduler_info()["workers"])


def test_cluster_fit_of_a_dask_dataframe_keeps_its_feature_names(client, data):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y, _ = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    labels = pd.Series(np.array(["a", "b", "c"])[y], name="label")
    in_memory = _fit(_clf(), frame, labels)
    on_cluster = _fit(
        _clf(),
        dd.from_pandas(frame, npartitions=3),
        dd.from_pandas(labels, npartitions=3),
    )
    assert_same_model(on_cluster, in_memory)
    assert_array_equal(on_cluster.feature_names_in_, frame.columns)
    assert_array_equal(on_cluster.classes_, ["a", "b", "c"])


def test_partial_fit_on_dask_arrays_is_one_full_batch_step(client, data):
    X, y, sample_weight = data
    X_dask, y_dask, w_dask = _on_cluster(X, y, sample_weight)
    in_memory, on_cluster = _clf(), _clf()
    for _ in range(3):
        in_memory.partial_fit(X, y, classes=[0, 1, 2], sample_weight=sample_weight)
        on_cluster.partial_fit(X_dask, y_dask, classes=[0, 1, 2], sample_weight=w_dask)
    assert_same_model(on_cluster, in_memory)
    assert on_cluster.n_iter_ == 3
    # And three calls are fit with max_iter=3, as in memory.
    assert_same_model(on_cluster, _fit(_clf(max_iter=3), X, y, sample_weight))


def test_warm_start_on_the_cluster_continues_from_the_last_fit(client, data):
    X, y, _ = data
    in_memory = _fit(_fit(_clf(warm_start=True, max_iter=5), X, y), X, y)
    on_cluster = _clf(warm_start=True, max_iter=5)
    _fit(_fit(on_cluster, *_on_cluster(X, y)), *_on_cluster(X, y))
    assert_same_model(on_cluster, in_memory)


def test_batch_size_with_rows_on_a_cluster_raises_saying_what_to_do(client, data):
    X, y, _ = data
    clf = _clf(batch_size=100)
    with pytest.raises(ValueError, match="batch_size=None.*Incremental"):
        clf.fit(*_on_cluster(X, y))
    assert not hasattr(clf, "coefs_")
    # A batch as large as the data is the full batch, as in memory.
    in_memory = _fit(_clf(batch_size=5000), X, y)
    assert_same_model(_fit(_clf(batch_size=5000), *_on_cluster(X, y)), in_memory)


def test_held_out_rows_of_no_weight_are_refused_before_training(client, data):
    # As in memory: the cluster's held-out loss divided by their weight,
    # 0, and the fit ended in a ZeroDivisionError after the first epoch.
    X, y, _ = data
    weight = np.zeros(len(y))
    weight[:3] = 1.0
    clf = _clf(early_stopping=True, validation_fraction=0.1)
    with pytest.raises(ValueError, match="left the validation rows with no weight"):
        clf.fit(*_on_cluster(X, y, weight))
    assert not hasattr(clf, "coefs_")
    # Weight on one held-out row (of 5 weighed rows): one row to score, as
    # in memory (a regressor's R^2 was 0 at every epoch). With 10 the
    # held-out rows weigh on more than one.
    weight[:5] = 1.0
    with pytest.raises(ValueError, match="The validation set is too small: the split"):
        clf.fit(*_on_cluster(X, y, weight))
    assert not hasattr(clf, "coefs_")
    weight[:10] = 1.0
    _fit(clf, *_on_cluster(X, y, weight))


def test_early_stopping_scores_held_out_rows_on_the_cluster(client, data):
    X, y, _ = data
    clf = _fit(
        _clf(early_stopping=True, validation_fraction=0.2, max_iter=30),
        *_on_cluster(X, y),
    )
    n_train = clf.t_ / clf.n_iter_
    # About 20% of each block's rows of each class are held out.
    assert 750 <= n_train <= 850
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    # The held-out rows are drawn from the estimator's random_state.
    again = _fit(
        _clf(early_stopping=True, validation_fraction=0.2, max_iter=30),
        *_on_cluster(X, y),
    )
    assert again.validation_scores_ == clf.validation_scores_
    assert_same_model(again, clf, tol=0)
    # The model kept is the best epoch's: it scores the best validation
    # accuracy on rows it was not trained on, so near its training score.
    assert abs(clf.score(*_on_cluster(X, y)) - clf.best_validation_score_) < 0.1


def test_the_validation_loss_on_the_cluster_is_that_of_its_held_out_rows(client, data):
    # The held-out rows of each block are drawn from seeds that the fit's
    # generator gives after the initial weights: drawn again here, they give
    # the rows the workers scored, on which the kept model (the best epoch's)
    # must have the recorded loss (log_loss) and accuracy.
    from sklearn.metrics import accuracy_score, log_loss

    from skmlp._dask.cluster import _held_out_rows
    from skmlp._math.layout import ParameterLayout

    X, y, sample_weight = data
    clf = _fit(
        _clf(early_stopping=True, validation_fraction=0.2, max_iter=20, tol=0.0),
        *_on_cluster(X, y, sample_weight),
    )
    rng = np.random.RandomState(0)
    ParameterLayout((X.shape[1], 5, 3)).initialize(rng, np.float64)
    n_blocks = -(-len(y) // BLOCK)
    seeds = rng.randint(np.iinfo(np.int32).max, size=n_blocks)
    blocks = [y[k * BLOCK : (k + 1) * BLOCK] for k in range(n_blocks)]
    held = np.concatenate(
        [
            _held_out_rows(codes, 0.2, np.random.RandomState(seed))
            for codes, seed in zip(blocks, seeds)
        ]
    )
    assert clf.t_ / clf.n_iter_ == len(y) - held.sum()
    best = int(np.argmax(clf.validation_scores_))
    X_held, y_held, w_held = X[held], y[held], sample_weight[held]
    assert_allclose(
        clf.validation_loss_curve_[best],
        log_loss(y_held, clf.predict_proba(X_held), sample_weight=w_held),
        rtol=1e-10,
    )
    assert clf.best_validation_score_ == pytest.approx(
        accuracy_score(y_held, clf.predict(X_held), sample_weight=w_held), abs=1e-12
    )
    assert len(clf.validation_loss_curve_) == clf.n_iter_


def test_x_val_with_rows_on_a_cluster_raises_saying_what_to_do(client, data):
    X, y, _ = data
    clf = _clf(early_stopping=True)
    for X_val in (X[:50], _on_cluster(X[:50])[0]):
        with pytest.raises(ValueError, match="X_val is not supported with rows on a"):
            clf.fit(*_on_cluster(X, y), X_val=X_val, y_val=y[:50])
    with pytest.raises(ValueError, match="X_val is not supported with rows on a"):
        clf.fit(X, y, X_val=_on_cluster(X[:50])[0], y_val=y[:50])
    assert not hasattr(clf, "coefs_")


def test_a_divergence_first_seen_on_held_out_rows_is_a_divergence(client, data):
    # The workers score the held-out rows: the error of outputs that
    # overflow there comes back to the client as the training loop's.
    X, y, _ = data
    clf = _clf(early_stopping=True, learning_rate_init=1e250)
    with pytest.raises(DivergenceError, match="rows held out for early stopping"):
        clf.fit(*_on_cluster(X, y))
    assert not hasattr(clf, "coefs_")


def test_predictions_on_dask_input_are_lazy_and_match_in_memory(client, data):
    X, y, sample_weight = data
    clf = _fit(_clf(), X, y)
    X_dask, y_dask, w_dask = _on_cluster(X, y, sample_weight)
    for method in ("predict", "predict_proba", "predict_log_proba"):
        lazy = getattr(clf, method)(X_dask)
        assert isinstance(lazy, da.Array)
        assert lazy.chunks[0] == X_dask.chunks[0]
        (computed,) = client.compute([lazy], sync=True)
        expected = getattr(clf, method)(X)
        assert computed.dtype == expected.dtype
        assert_allclose(computed, expected, rtol=1e-13, atol=0)
    assert clf.score(X_dask, y_dask) == pytest.approx(clf.score(X, y), abs=1e-15)
    assert clf.score(X_dask, y_dask, w_dask) == pytest.approx(
        clf.score(X, y, sample_weight), rel=1e-12
    )


def test_bad_rows_on_the_cluster_raise_scikit_learns_errors(client, data):
    X, y, sample_weight = data
    clf = _clf()
    X_nan = X.copy()
    X_nan[700, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.fit(*_on_cluster(X_nan, y))
    negative = sample_weight.copy()
    negative[10] = -1
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        clf.fit(*_on_cluster(X, y, negative))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(*_on_cluster(X, y[:-1]))
    # scikit-learn's words since 1.8, ours before.
    with pytest.raises(ValueError, match="must be positive|at least one non-zero"):
        clf.fit(*_on_cluster(X, y, np.zeros_like(sample_weight)))
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(*_on_cluster(X, y + 0.5))
    assert not hasattr(clf, "coefs_")
    # A failed call leaves a fitted model as it was.
    _fit(clf, X, y)
    coefs = [coef.copy() for coef in clf.coefs_]
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(*_on_cluster(X, y + 1))
    for coef, saved in zip(clf.coefs_, coefs):
        assert_array_equal(coef, saved)
    with pytest.raises(ValueError, match="expecting 6 features"):
        clf.predict(da.from_array(X[:, :5], chunks=BLOCK))


def test_skmlp_does_not_import_dask():
    # Dask is an optional extra: training and predicting on NumPy arrays
    # must not import it.
    code = (
        "import sys\n"
        "from sklearn.datasets import load_iris\n"
        "from skmlp import SoftplusMLPClassifier\n"
        "X, y = load_iris(return_X_y=True)\n"
        "SoftplusMLPClassifier(max_iter=2).fit(X, y).score(X, y)\n"
        "assert not any(name.split('.')[0] in ('dask', 'distributed')"
        " for name in sys.modules), sorted(sys.modules)\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_data_larger_than_a_workers_memory_trains_without_gathering_it(client):
    # 1.05 GiB of rows, made by the workers, while each may use 1 GiB: no
    # worker could hold them all, and this process does not hold them.
    n_features, block = 40, 245_000
    n_samples = 15 * block
    X = (
        da.random.RandomState(0).random_sample(
            (n_samples, n_features), chunks=(block, n_features)
        )
        - 0.5
    )
    assert X.nbytes > 1.05 * MEMORY_LIMIT
    y = (X[:, 0] > 0).astype(np.int64)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    clf = _clf(hidden_layer_sizes=(), max_iter=3, learning_rate_init=1.0)
    _fit(clf, X, y)
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert peak_after - peak_before < X.nbytes / 10
    assert clf.n_iter_ == 3
    assert clf.t_ == 3 * n_samples
    assert clf.loss_curve_[2] < clf.loss_curve_[1] < clf.loss_curve_[0]
    # The one informative feature gained weight for class 1 over class 0.
    weights = clf.coefs_[0][:, 1] - clf.coefs_[0][:, 0]
    assert weights[0] - np.abs(weights[1:]).max() > 0.05


class _KillWorkerAfter:
    """A stand-in for stdout that kills a worker when the verbose fit
    reports its epoch ``epoch``: a deterministic point in the middle of the
    fit."""

    def __init__(self, client, epoch, worker=None):
        self.client = client
        self.line = f"Iteration {epoch},"
        self.worker = worker
        self.killed = None
        self.text = io.StringIO()

    def write(self, text):
        self.text.write(text)
        if self.killed is None and text.startswith(self.line):
            self.killed = _kill(self.client, self.worker)

    def flush(self):
        pass


def _kill(client, worker=None):
    """Kill ``worker`` (by default the first) without a word to the
    scheduler, as a crash would; its nanny starts a new one."""
    worker = worker or sorted(client.scheduler_info()["workers"])[0]
    client.run(lambda: os._exit(1), workers=[worker], on_error="ignore")
    return worker


def _scattered(client, worker, *arrays):
    """Dask arrays of rows that only ``worker``'s memory holds: scattered to
    it, with no task graph to compute them again.

    One block each: a step is one task, on the worker of its rows.
    """
    futures = client.scatter(list(arrays), workers=[worker])
    return [
        da.from_delayed(future, array.shape, array.dtype)
        for future, array in zip(futures, arrays)
    ]


def _within(seconds, function, *args, **kwargs):
    """``function(*args, **kwargs)``, failing the test instead of hanging
    the test run if it has not returned after ``seconds``."""
    outcome = {}

    def call():
        try:
            outcome["result"] = function(*args, **kwargs)
        except BaseException as error:
            outcome["error"] = error

    # A daemon thread: one that hangs does not keep pytest from exiting.
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{function.__name__} hung: no return after {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def test_a_worker_lost_mid_fit_is_recovered_with_the_same_result(client, data):
    X, y, sample_weight = data
    in_memory = _fit(_clf(max_iter=20), X, y, sample_weight=sample_weight)
    clf = _clf(max_iter=20, verbose=True)
    stdout = _KillWorkerAfter(client, epoch=5)
    with contextlib.redirect_stdout(stdout):
        _fit(clf, *_on_cluster(X, y, sample_weight))
    assert stdout.killed is not None
    assert stdout.killed not in client.scheduler_info()["workers"]
    assert stdout.text.getvalue().count("Iteration") == 20
    assert_same_model(clf, in_memory)
    # The nanny starts a new worker in its place, for the tests that follow.
    client.wait_for_workers(2, timeout=60)


def test_a_fit_on_a_cluster_that_loses_its_blocks_for_good_leaves_the_model(
    client, data
):
    # A restart of every worker at epoch 3 drops every block and task of the
    # fit (its futures are cancelled): nothing is left to recompute them from.
    X, y, _ = data
    clf = _fit(_clf(max_iter=3), X, y)
    fitted = {name: getattr(clf, name) for name in ("coefs_", "n_iter_", "loss_")}
    clf.set_params(max_iter=20, verbose=True, warm_start=True)
    stdout = _RestartClusterAfter(client, epoch=3)
    with (
        contextlib.redirect_stdout(stdout),
        pytest.raises(
            RuntimeError, match="cluster failed during training.*left as it was"
        ),
    ):
        _fit(clf, *_on_cluster(X, y))
    assert stdout.restarted
    assert clf.n_iter_ == fitted["n_iter_"] and clf.loss_ == fitted["loss_"]
    for coef, saved in zip(clf.coefs_, fitted["coefs_"]):
        assert_array_equal(coef, saved)
    client.wait_for_workers(2, timeout=60)


@pytest.mark.parametrize("lost_at", ["epoch 3", "before the call"])
def test_a_fit_whose_rows_cannot_be_recomputed_raises_and_leaves_the_model(
    client, data, lost_at
):
    # The rows live only in the memory of the worker they were scattered to:
    # when it dies, at epoch 3 of a warm-started fit or before the fit has
    # made its blocks, Dask has nothing to compute them again from. The fit
    # raises, says why, and does not hang.
    #
    # On a cluster of its own, of one worker: on two, Dask may make the
    # block (or run a step) on the other worker, which copies the rows
    # there, and the fit then rightly goes on without the dead worker.
    # distributed 2024.2.1 did so in about one run in six.
    X, y, _ = data
    clf = _fit(_clf(max_iter=3), X, y)
    fitted = {"coefs_": [coef.copy() for coef in clf.coefs_]}
    fitted.update(n_iter_=clf.n_iter_, loss_=clf.loss_)
    clf.set_params(max_iter=20, verbose=True, warm_start=True)
    with _local_client(n_workers=1) as lone:
        (holder,) = lone.scheduler_info()["workers"]
        X_dask, y_dask = _scattered(lone, holder, X, y)
        stdout = _KillWorkerAfter(lone, epoch=3, worker=holder)
        if lost_at == "before the call":
            stdout.killed = _kill(lone, holder)
            # Until the scheduler has dropped the worker and the rows with it.
            deadline = time.monotonic() + 30
            while holder in lone.scheduler_info()["workers"]:
                assert time.monotonic() < deadline, "the killed worker stayed"
                time.sleep(0.05)
        with (
            contextlib.redirect_stdout(stdout),
            pytest.raises(
                RuntimeError,
                match="cluster failed during training.*scattered data.*left as it was",
            ),
        ):
            _within(120, _fit, clf, X_dask, y_dask)
        assert stdout.killed == holder
    assert clf.n_iter_ == fitted["n_iter_"] and clf.loss_ == fitted["loss_"]
    for coef, saved in zip(clf.coefs_, fitted["coefs_"]):
        assert_array_equal(coef, saved)
    # The module's cluster is the default client again.
    assert distributed.default_client() is client


class _RestartClusterAfter(io.StringIO):
    """A stand-in for stdout that restarts the cluster's workers when the
    verbose fit reports its epoch ``epoch``."""

    def __init__(self, client, epoch):
        super().__init__()
        self.client = client
        self.line = f"Iteration {epoch},"
        self.restarted = False

    def write(self, text):
        if not self.restarted and text.startswith(self.line):
            self.client.restart()
            self.restarted = True
        return super().write(text)


class _InterruptAfter(io.StringIO):
    """A stand-in for stdout that raises KeyboardInterrupt (a user's Ctrl-C)
    when the verbose fit reports its epoch ``epoch``."""

    def __init__(self, epoch):
        super().__init__()
        self.line = f"Iteration {epoch},"

    def write(self, text):
        super().write(text)
        if text.startswith(self.line):
            raise KeyboardInterrupt


@pytest.mark.parametrize("solver", ["nag", "lbfgs"])
def test_ctrl_c_during_a_cluster_fit_keeps_the_last_finished_epoch(
    client, data, solver
):
    # The epoch loop of any fit: the model of epoch 3 is kept, as the
    # in-memory fit of 3 epochs gives it, with the warning of an interrupt.
    X, y, sample_weight = data
    in_memory = _fit(
        _clf(solver=solver, max_iter=3, tol=0.0), X, y, sample_weight=sample_weight
    )
    clf = _clf(solver=solver, max_iter=20, tol=0.0, verbose=True)
    with (
        contextlib.redirect_stdout(_InterruptAfter(epoch=3)),
        pytest.warns(UserWarning, match="interrupted by user.*epoch \\(3\\)"),
    ):
        clf.fit(*_on_cluster(X, y, sample_weight))
    assert_same_model(clf, in_memory)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_cluster_call_whose_last_step_diverges_raises_and_keeps_the_model(
    client, data
):
    # A one-step partial_fit takes its loss before the step: only the check
    # of the point that ends it sees the blow-up. Its bound proves nothing
    # there, so the loss is summed over the blocks (one more task each).
    X, y, _ = data
    clf = _fit(_clf(max_iter=3), *_on_cluster(X, y))
    fitted = [coef.copy() for coef in clf.coefs_]
    clf.set_params(learning_rate_init=1e10)
    with _new_tasks(client) as tasks:
        with pytest.raises(DivergenceError, match="the loss reached"):
            clf.partial_fit(*_on_cluster(X, y))
    steps = [task for task in tasks if "_block_sums" in str(task["key"])]
    assert len(steps) == (1 + 1) * 4
    assert clf.n_iter_ == 3
    for coef, saved in zip(clf.coefs_, fitted):
        assert_array_equal(coef, saved)


def test_a_diverging_cluster_fit_raises_and_leaves_the_model(client, data):
    # The divergence rule of any fit, on the losses summed over the blocks.
    X, y, sample_weight = data
    clf = _fit(_clf(max_iter=3), *_on_cluster(X, y, sample_weight))
    fitted = [coef.copy() for coef in clf.coefs_]
    clf.set_params(learning_rate_init=1e3, warm_start=True)
    with pytest.raises(DivergenceError, match="Training diverged"):
        clf.fit(*_on_cluster(X, y, sample_weight))
    assert clf.n_iter_ == 3 and clf.learning_rate_ == 0.3
    for coef, saved in zip(clf.coefs_, fitted):
        assert_array_equal(coef, saved)


def _masked(*arrays, keep):
    """Dask arrays of the rows of ``arrays`` that ``keep`` selects, masked
    on the cluster: their block sizes are unknown (NaN) until computed."""
    mask = da.from_array(keep, chunks=BLOCK)
    masked = [array[mask] for array in _on_cluster(*arrays)]
    assert all(np.isnan(array.chunks[0]).all() for array in masked)
    return masked


def test_rows_of_unknown_block_sizes_fit_and_score_as_in_memory(client, data):
    # y and sample_weight selected by a mask, as X: the block sizes of each
    # are computed, and the fit is the in-memory fit of the same rows.
    X, y, sample_weight = data
    keep = np.random.RandomState(2).uniform(size=len(y)) < 0.6
    in_memory = _fit(_clf(), X[keep], y[keep], sample_weight=sample_weight[keep])
    X_dask, y_dask, w_dask = _masked(X, y, sample_weight, keep=keep)
    assert_same_model(_fit(_clf(), X_dask, y_dask, sample_weight=w_dask), in_memory)
    # Only y (or only the weights) of unknown sizes, X known.
    X_known = _on_cluster(X[keep])[0]
    assert_same_model(_fit(_clf(), X_known, y_dask, sample_weight=w_dask), in_memory)
    assert in_memory.score(X_dask, y_dask) == pytest.approx(
        in_memory.score(X[keep], y[keep]), abs=1e-15
    )
    assert in_memory.score(X_dask, y_dask, w_dask) == pytest.approx(
        in_memory.score(X[keep], y[keep], sample_weight[keep]), rel=1e-12
    )
    # A real mismatch is still told, in scikit-learn's words.
    n_kept = keep.sum()
    fewer = keep.copy()
    fewer[np.flatnonzero(keep)[-1]] = False
    (y_fewer,) = _masked(y, keep=fewer)
    expected = f"inconsistent numbers of samples: \\[{n_kept}, {n_kept - 1}\\]"
    with pytest.raises(ValueError, match=expected):
        _clf().fit(X_dask, y_fewer)
    with pytest.raises(ValueError, match=expected):
        _clf().fit(X_dask, y_dask, sample_weight=_masked(sample_weight, keep=fewer)[0])
    with pytest.raises(ValueError, match=expected):
        in_memory.score(X_dask, y_fewer)


# scikit-learn before 1.9 (the oldest supported versions) checks less in
# memory: score takes NaN, inf and all-zero weights (NaN, or a
# ZeroDivisionError), and pandas' NA in the weights gives pandas' own
# error. The cluster then raises scikit-learn's clear ValueError where
# memory does not: the tests hold it to the in-memory error, word for word,
# where that is a ValueError of the newest versions.
_SKLEARN_CHECKS_LESS = parse_version(sklearn.__version__) < parse_version("1.9")


def _raises_as_in_memory(in_memory, on_cluster):
    """Assert that ``on_cluster()`` raises what ``in_memory()`` raises: the
    same type, and the same first line of its message (an estimator adds a
    second line to the NaN error in memory); on the scikit-learn versions
    that check less in memory, a ValueError or the in-memory error's type."""
    # scikit-learn's metrics warn of the NaN they cast to int in memory,
    # before they raise.
    expected = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            in_memory()
        except Exception as error:
            expected = error
    if _SKLEARN_CHECKS_LESS:
        allowed = ValueError if expected is None else (ValueError, type(expected))
        with pytest.raises(allowed):
            on_cluster()
        return
    assert expected is not None, "in memory, this raises nothing"
    first_line = str(expected).splitlines()[0]
    with pytest.raises(type(expected)) as got:
        on_cluster()
    assert str(got.value).splitlines()[0] == first_line


def _with_na(values, dtype):
    """``values`` as a pandas Series of ``dtype`` whose row 700 is <NA>."""
    pd = pytest.importorskip("pandas")
    series = pd.Series(values, dtype=dtype)
    series[700] = pd.NA
    return series


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "object"])
def test_missing_values_of_pandas_columns_raise_as_in_memory(client, data, dtype):
    # A nullable column holding <NA> is NaN in memory, which scikit-learn
    # refuses ("Input X contains NaN"); pandas' NA in an object column
    # raises what scikit-learn's conversion raises in memory too.
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y, sample_weight = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    column = np.round(X[:, 2] * 10) if dtype == "Int64" else X[:, 2]
    frame["f2"] = _with_na(column, dtype)
    frame_dask = dd.from_pandas(frame, npartitions=3)
    fitted = _fit(_clf(), frame.fillna(0), y)
    _raises_as_in_memory(
        lambda: _clf().fit(frame, y), lambda: _clf().fit(frame_dask, y)
    )
    _raises_as_in_memory(
        lambda: fitted.predict(frame),
        lambda: client.compute([fitted.predict(frame_dask)], sync=True),
    )
    _raises_as_in_memory(
        lambda: fitted.score(frame, y), lambda: fitted.score(frame_dask, y)
    )


@pytest.mark.parametrize("dtype", ["Int64", "Float64"])
@pytest.mark.parametrize("column", ["y", "sample_weight"])
def test_missing_values_of_nullable_targets_and_weights_raise_as_in_memory(
    client, data, dtype, column
):
    # A Dask Series of a nullable dtype holding <NA>, as y or as the
    # sample weights: the NaN error of scikit-learn, in fit and in score.
    dd = pytest.importorskip("dask.dataframe")
    X, y, _ = data
    values = {"y": y, "sample_weight": y + 1}[column]
    with_na = _with_na(values, dtype)
    in_memory = {"y": y, "sample_weight": None, column: with_na}
    on_cluster = {
        "y": _on_cluster(y)[0],
        "sample_weight": None,
        column: dd.from_pandas(with_na, npartitions=3),
    }
    X_dask = _on_cluster(X)[0]
    fitted = _fit(_clf(), X, y)
    _raises_as_in_memory(
        lambda: _clf().fit(X, **in_memory), lambda: _clf().fit(X_dask, **on_cluster)
    )
    _raises_as_in_memory(
        lambda: fitted.score(X, **in_memory),
        lambda: fitted.score(X_dask, **on_cluster),
    )


@pytest.mark.parametrize(
    "weights",
    [
        np.zeros(1000),
        np.r_[np.ones(500), np.nan, np.ones(499)],
        np.r_[np.ones(500), np.inf, np.ones(499)],
        np.full(1000, np.nan),
    ],
    ids=["zero", "nan", "inf", "all-nan"],
)
def test_score_on_the_cluster_refuses_the_weights_refused_in_memory(
    client, data, weights
):
    X, y, _ = data
    fitted = _fit(_clf(), X, y)
    _raises_as_in_memory(
        lambda: fitted.score(X, y, weights),
        lambda: fitted.score(*_on_cluster(X, y, weights)),
    )


def test_score_on_the_cluster_takes_the_weights_taken_in_memory(client, data):
    # Negative weights, and blocks that weigh nothing beside others that
    # do: as in memory, a score.
    X, y, sample_weight = data
    fitted = _fit(_clf(), X, y)
    negative = sample_weight - 0.5
    zero_blocks = sample_weight.copy()
    zero_blocks[: 2 * BLOCK] = 0
    for weights in (negative, zero_blocks):
        assert fitted.score(*_on_cluster(X, y, weights)) == pytest.approx(
            fitted.score(X, y, weights), rel=1e-12
        )


def _keys_on_the_cluster(client):
    """The keys of every task the scheduler holds, of any client."""
    return set(
        client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.tasks))
    )


def _gather_interrupted(client, futures, *args, **kwargs):
    """``Client.gather`` that raises KeyboardInterrupt (a user's Ctrl-C
    while the client waits) when it waits for the tasks of a step."""
    # (Older distributed gathers lists of futures: their text has the keys.)
    if "_block_sums" in str(futures):
        raise KeyboardInterrupt
    return _GATHER(client, futures, *args, **kwargs)


_GATHER = distributed.Client.gather


@pytest.mark.parametrize("failure", ["divergence", "ctrl-c", "zero weights"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_failed_cluster_fit_leaves_nothing_on_the_cluster(
    client, data, monkeypatch, failure
):
    # The exception, and its traceback with the frames of the call, are
    # kept (as sys.last_traceback keeps them in a notebook): the run's
    # blocks, its steps' tasks and theta must go from the cluster all the
    # same.
    X, y, sample_weight = data
    before = _keys_on_the_cluster(client)
    clf, error = _clf(), DivergenceError
    with monkeypatch.context() as patch:
        if failure == "divergence":
            clf.set_params(learning_rate_init=1e3)
        elif failure == "ctrl-c":
            # In the first step, before any epoch has finished: the Ctrl-C
            # goes through.
            patch.setattr(distributed.Client, "gather", _gather_interrupted)
            error = KeyboardInterrupt
        else:
            sample_weight, error = np.zeros_like(sample_weight), ValueError
        with pytest.raises(error) as kept:
            clf.fit(*_on_cluster(X, y, sample_weight))
    assert kept.tb is not None
    # The futures' releases reach the scheduler in their own time.
    deadline = time.monotonic() + 30
    while _keys_on_the_cluster(client) - before:
        assert time.monotonic() < deadline, (
            f"left on the cluster: {_keys_on_the_cluster(client) - before}"
        )
        time.sleep(0.05)
    assert not hasattr(clf, "coefs_")


def test_an_empty_block_fits_and_scores_as_in_memory(client, data):
    # A block without rows: of a mask that keeps none of its rows, or made
    # so. It adds nothing, and is checked as the others are.
    X, y, sample_weight = data
    keep = np.ones(len(y), dtype=bool)
    keep[BLOCK : 2 * BLOCK] = False
    in_memory = _fit(_clf(), X[keep], y[keep], sample_weight=sample_weight[keep])
    masked = _masked(X, y, sample_weight, keep=keep)
    on_cluster = _fit(_clf(), *masked[:2], sample_weight=masked[2])
    assert_same_model(on_cluster, in_memory)
    assert in_memory.score(*masked) == pytest.approx(
        in_memory.score(X[keep], y[keep], sample_weight[keep]), rel=1e-12
    )
    chunks = (BLOCK, 0, len(y) - BLOCK)
    made = [da.from_array(a, chunks=(chunks, *a.shape[1:])) for a in (X, y)]
    weights = da.from_array(sample_weight, chunks=chunks)
    assert 0 in made[0].chunks[0]
    in_memory = _fit(_clf(), X, y, sample_weight=sample_weight)
    assert_same_model(_fit(_clf(), *made, sample_weight=weights), in_memory)


def test_a_column_y_and_a_scalar_weight_fit_as_in_memory(client, data):
    # As in memory: a y of one column (a DataFrame, or a 2-D array) is one
    # label per row, with scikit-learn's warning in fit; a number is the
    # weight of every row.
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    from sklearn.exceptions import DataConversionWarning

    X, y, _ = data
    in_memory = _fit(_clf(), X, y, sample_weight=np.full(len(y), 2.0))
    X_dask = _on_cluster(X)[0]
    frame = dd.from_pandas(pd.DataFrame({"label": y}), npartitions=3)
    (column,) = _on_cluster(y[:, None])
    for y_dask in (frame, column):
        with pytest.warns(DataConversionWarning, match="column-vector y"):
            on_cluster = _fit(_clf(), X_dask, y_dask, sample_weight=2.0)
        assert_same_model(on_cluster, in_memory)
        assert on_cluster.score(X_dask, y_dask, 2.0) == pytest.approx(
            in_memory.score(X, y), abs=1e-15
        )
    # Weights of more dimensions are refused in scikit-learn's words.
    weights = np.ones((len(y), 1))
    _raises_as_in_memory(
        lambda: _clf().fit(X, y, sample_weight=weights),
        lambda: _clf().fit(X_dask, y, sample_weight=_on_cluster(weights)[0]),
    )
    # More columns are multilabel targets, which train in memory only.
    two = dd.from_pandas(pd.DataFrame({"a": y, "b": y}), npartitions=3)
    with pytest.raises(ValueError, match="Multilabel targets .* in memory only"):
        _clf().fit(X_dask, two)


@pytest.mark.parametrize("dtype", ["category", "boolean", "Int64", "string"])
def test_a_dask_series_of_labels_of_a_pandas_dtype_fits_as_in_memory(
    client, data, dtype
):
    # Converted as check_array converts them in memory: the same classes_,
    # of the same dtype (floats for nullable booleans and integers).
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y, _ = data
    values = y > 0 if dtype == "boolean" else y
    if dtype in ("category", "string"):
        values = np.array(["a", "b", "c"])[y]
    labels = pd.Series(values, dtype=dtype)
    in_memory = _fit(_clf(), X, labels)
    on_cluster = _fit(_clf(), _on_cluster(X)[0], dd.from_pandas(labels, npartitions=3))
    assert_same_model(on_cluster, in_memory)
    assert_array_equal(on_cluster.classes_, in_memory.classes_)
    assert on_cluster.classes_.dtype == in_memory.classes_.dtype


# ---------------------------------------------------------------------------
# The regressor on the cluster: the same training, with its datafits.


@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.RandomState(2)
    X = rng.normal(size=(1000, 5))
    coef = rng.normal(scale=0.5, size=(5, 2))
    real = X @ coef + np.sin(X[:, :2]) + rng.normal(scale=0.3, size=(1000, 2))
    counts = rng.poisson(np.exp(0.5 * X @ coef[:, :1] + 0.5)).astype(float)
    sample_weight = rng.uniform(0, 2, size=1000)
    return X, real, counts, sample_weight


def _cluster_held_out(n_rows, layer_sizes, fraction, random_state):
    """The rows a regressor's fit on the cluster holds out for early
    stopping, drawn again as the workers draw them: after the initial
    weights, one seed per block from the fit's generator, and a random
    ``fraction`` of each block from it."""
    from skmlp._dask.cluster import _held_out_rows
    from skmlp._math.layout import ParameterLayout

    rng = np.random.RandomState(random_state)
    ParameterLayout(layer_sizes).initialize(rng, np.float64)
    seeds = rng.randint(np.iinfo(np.int32).max, size=-(-n_rows // BLOCK))
    return np.concatenate(
        [
            _held_out_rows(
                np.zeros(min(BLOCK, n_rows - k * BLOCK), np.intp),
                fraction,
                np.random.RandomState(seed),
            )
            for k, seed in enumerate(seeds)
        ]
    )


def _reg(**params):
    params = {"hidden_layer_sizes": (5,), "max_iter": 25, "random_state": 0, **params}
    return SoftplusMLPRegressor(**params)


@pytest.mark.parametrize(
    "solver_params",
    [
        {"solver": "gd", "learning_rate_init": 0.05},
        {"solver": "gd"},
        {"solver": "nag"},
        {"solver": "nag", "learning_rate_init": 0.05, "restart": None},
        {"solver": "lbfgs"},
    ],
    ids=["gd", "gd-auto", "nag-auto", "nag", "lbfgs"],
)
@pytest.mark.parametrize("target", ["one", "several", "counts"])
def test_regressor_cluster_fit_equals_the_in_memory_fit(
    client, regression_data, target, solver_params
):
    X, real, counts, sample_weight = regression_data
    y, loss = {
        "one": (real[:, 0], "squared_error"),
        "several": (real, "squared_error"),
        "counts": (counts[:, 0], "poisson"),
    }[target]
    in_memory = _fit(
        _reg(loss=loss, **solver_params), X, y, sample_weight=sample_weight
    )
    on_cluster = _fit(
        _reg(loss=loss, **solver_params),
        *_on_cluster(X, y),
        sample_weight=_on_cluster(sample_weight)[0],
    )
    assert_same_model(on_cluster, in_memory)
    assert on_cluster.n_outputs_ == in_memory.n_outputs_
    assert on_cluster.out_activation_ == in_memory.out_activation_


def test_several_outputs_in_memory_beside_a_dask_x_fit_and_score(
    client, regression_data
):
    # As MLPRegressor takes them: they were refused with the error of
    # multilabel classification ("one label per row").
    pd = pytest.importorskip("pandas")
    X, real, _, _ = regression_data
    (X_dask,) = _on_cluster(X)
    in_memory = _fit(_reg(), X, real)
    for y in (real, pd.DataFrame(real, columns=["a", "b"])):
        on_cluster = _fit(_reg(), X_dask, y)
        assert_same_model(on_cluster, in_memory)
        assert on_cluster.score(X_dask, y) == pytest.approx(
            in_memory.score(X, real), rel=1e-12
        )
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        _reg().fit(X_dask, real[:-1])


def test_regressor_cluster_statistics_are_the_datafits(client, regression_data):
    # The intercepts a fit starts from and the divergence rule's floor, from
    # the sums that the cluster computes, are the datafits' intercept_only
    # and chance_loss of the rows in memory.
    from skmlp._dask.cluster import validate_rows
    from skmlp._math.datafits import DATAFITS
    from skmlp._validation import view

    X, real, counts, sample_weight = regression_data
    # An output without events starts from the count of the rows of
    # positive weight, which the cluster counts too.
    some_events = np.column_stack([counts[:, 0], np.zeros(len(counts))])
    some_weightless = np.where(np.arange(len(X)) % 4 == 0, 0.0, sample_weight)
    for y, loss, weight in (
        (real, "squared_error", sample_weight),
        (counts, "poisson", sample_weight),
        (some_events, "poisson", some_weightless),
    ):
        model = view(_reg(loss=loss))
        rows = validate_rows(
            model, *_on_cluster(X, y), _on_cluster(weight)[0], False, True
        )
        datafit = DATAFITS[model.out_activation_]()
        assert_allclose(rows.intercepts, datafit.intercept_only(y, weight), rtol=1e-12)
        assert rows.chance_loss == pytest.approx(
            datafit.chance_loss(y.shape[1], y, weight), rel=1e-10
        )


def test_regressor_early_stopping_on_the_cluster_scores_r2_of_its_held_out_rows(
    client, regression_data
):
    from sklearn.metrics import r2_score

    X, real, _, sample_weight = regression_data
    reg = _fit(
        _reg(early_stopping=True, validation_fraction=0.2, max_iter=20, tol=0.0),
        *_on_cluster(X, real, sample_weight),
    )
    # The held-out rows, drawn again as the workers drew them: a random
    # fifth of each block.
    held = _cluster_held_out(len(X), (X.shape[1], 5, 2), 0.2, 0)
    assert reg.t_ / reg.n_iter_ == len(X) - held.sum()
    X_held, y_held, w_held = X[held], real[held], sample_weight[held]
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.best_validation_score_ == pytest.approx(
        r2_score(y_held, reg.predict(X_held), sample_weight=w_held), abs=1e-12
    )
    best = int(np.argmax(reg.validation_scores_))
    residual = reg.predict(X_held) - y_held
    assert reg.validation_loss_curve_[best] == pytest.approx(
        np.average(np.mean(residual**2, axis=1) / 2, weights=w_held), rel=1e-10
    )


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_the_regressors_start_on_the_cluster_is_its_training_rows_mean(
    client, regression_data, loss
):
    # With early stopping the output intercepts start from the training
    # rows' weighted mean (its log for Poisson), as in memory: they started
    # from all the rows', held-out ones included. So the fit is that of the
    # training rows in memory with the held-out ones as X_val.

    X, real, counts, sample_weight = regression_data
    y = real if loss == "squared_error" else counts[:, 0]
    params = dict(
        early_stopping=True, validation_fraction=0.2, max_iter=5, tol=0.0, loss=loss
    )
    reg = _fit(_reg(**params), *_on_cluster(X, y, sample_weight))
    held = _cluster_held_out(
        len(X), (X.shape[1], 5, y.reshape(len(y), -1).shape[1]), 0.2, 0
    )
    in_memory = _fit(
        _reg(**params),
        X[~held],
        y[~held],
        sample_weight=sample_weight[~held],
        X_val=X[held],
        y_val=y[held],
        sample_weight_val=sample_weight[held],
    )
    for a, b in zip(
        reg.coefs_ + reg.intercepts_, in_memory.coefs_ + in_memory.intercepts_
    ):
        assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_the_chance_level_on_the_cluster_is_its_training_rows(client, seed):
    # Constant inputs: nothing to learn, and L-BFGS converges at the
    # training rows' chance level, which it warns of. With early stopping
    # the level came from all the rows, held-out ones included, so the
    # warning was missed on 4 of 6 seeds (or said 0.533 was no lower than
    # 0.522). In memory, with the held-out rows as X_val, it warns.
    from sklearn.exceptions import ConvergenceWarning

    X, y = np.ones((200, 2)), np.random.RandomState(0).randn(200)
    params = dict(
        hidden_layer_sizes=(4,), solver="lbfgs", early_stopping=True, random_state=seed
    )
    with pytest.warns(ConvergenceWarning, match="learned nothing"):
        SoftplusMLPRegressor(**params).fit(*_on_cluster(X, y))
    held = _cluster_held_out(len(X), (2, 4, 1), 0.1, seed)
    with pytest.warns(ConvergenceWarning, match="learned nothing"):
        SoftplusMLPRegressor(**params).fit(
            X[~held], y[~held], X_val=X[held], y_val=y[held]
        )


def test_nothing_is_evaluated_on_the_cluster_once_its_run_has_ended(
    client, monkeypatch
):
    # The chance-level check evaluated the kept point at warn time, after
    # the call had released its blocks: a ClusterError ("lost
    # dependencies") in 5 to 8 of 30 fits. It is judged as the run ends.
    from sklearn.exceptions import ConvergenceWarning

    from skmlp._dask.cluster import ClusterObjective
    from skmlp._training import loop

    ended = []
    calls_after = []
    run = loop.TrainingRun.run

    def recorded_run(self):
        run(self)
        ended.append(True)

    value = ClusterObjective.value

    def recorded_value(self, theta):
        if ended:
            calls_after.append(True)
        return value(self, theta)

    monkeypatch.setattr(loop.TrainingRun, "run", recorded_run)
    monkeypatch.setattr(ClusterObjective, "value", recorded_value)
    X, y = np.ones((200, 2)), np.random.RandomState(0).randn(200)
    reg = SoftplusMLPRegressor(
        hidden_layer_sizes=(4,), solver="lbfgs", early_stopping=True, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="learned nothing"):
        reg.fit(*_on_cluster(X, y))
    assert ended and not calls_after


def test_regressor_predictions_and_score_on_dask_input_match_in_memory(
    client, regression_data
):
    X, real, counts, sample_weight = regression_data
    for y, loss in ((real, "squared_error"), (real[:, 0], "squared_error"),
                    (counts[:, 0], "poisson")):  # fmt: skip
        reg = _fit(_reg(loss=loss), X, y)
        X_dask, y_dask, w_dask = _on_cluster(X, y, sample_weight)
        lazy = reg.predict(X_dask)
        assert isinstance(lazy, da.Array)
        (computed,) = client.compute([lazy], sync=True)
        assert computed.shape == y.shape
        assert_allclose(computed, reg.predict(X), rtol=1e-13, atol=0)
        assert reg.score(X_dask, y_dask) == pytest.approx(reg.score(X, y), rel=1e-12)
        assert reg.score(X_dask, y_dask, w_dask) == pytest.approx(
            reg.score(X, y, sample_weight), rel=1e-12
        )


def test_the_r2_on_dask_input_takes_negative_weights_as_r2_score_does(
    client, regression_data
):
    # r2_score takes them; the blocks' parts treated a negative total as
    # none (a mean of 0), and weights all negative were refused as zero.
    X, real, _, sample_weight = regression_data
    reg = _fit(_reg(), X, real[:, 0])
    for weights in (-np.ones(len(X)), sample_weight - 0.5):
        X_dask, y_dask, w_dask = _on_cluster(X, real[:, 0], weights)
        assert reg.score(X_dask, y_dask, w_dask) == pytest.approx(
            reg.score(X, real[:, 0], weights), rel=1e-12
        )


def test_the_r2_of_one_row_on_dask_input_is_r2_scores_nan_and_warning(
    client, regression_data
):
    # It was 0.0 (a spread of 0, and a residual that is not): r2_score says
    # that R^2 is not defined on one row.
    from sklearn.exceptions import UndefinedMetricWarning

    X, real, _, _ = regression_data
    reg = _fit(_reg(), X, real[:, 0])
    X_dask, y_dask = _on_cluster(X[:1], real[:1, 0])
    with pytest.warns(UndefinedMetricWarning, match="less than two samples"):
        in_memory = reg.score(X[:1], real[:1, 0])
    with pytest.warns(UndefinedMetricWarning, match="less than two samples"):
        assert np.isnan(reg.score(X_dask, y_dask))
    assert np.isnan(in_memory)


def test_poisson_on_the_cluster_rejects_negative_targets(client, regression_data):
    X, real, _, _ = regression_data
    with pytest.raises(ValueError, match="out of the valid range of the loss"):
        _reg(loss="poisson").fit(*_on_cluster(X, real[:, 0]))


def test_the_cluster_refuses_targets_past_float32_for_float32_x_as_in_memory(
    client, regression_data
):
    X, real, _, _ = regression_data
    huge = real[:, 0] / np.abs(real[:, 0]).max() * -5e38
    with pytest.raises(ValueError, match=r"too large for dtype\('float32'\)"):
        _reg().fit(*_on_cluster(X.astype(np.float32), huge))


def test_the_regressor_on_the_cluster_names_negative_weights_first(
    client, regression_data
):
    # As in memory: weights all negative have a negative sum, whose
    # message ("must be positive") came before scikit-learn's.
    X, real, _, _ = regression_data
    for weights in (-np.ones(len(X)), np.r_[-1.0, np.ones(len(X) - 1)]):
        with pytest.raises(ValueError, match="Negative values in data passed to"):
            _reg().fit(*_on_cluster(X, real[:, 0], weights))
        with pytest.raises(ValueError, match="Negative values in data passed to"):
            _reg().fit(X, real[:, 0], sample_weight=weights)


def test_regressor_on_the_cluster_rejects_targets_written_as_strings(
    client, regression_data
):
    X, real, _, _ = regression_data
    with pytest.raises(ValueError, match="y holds strings"):
        _reg().fit(*_on_cluster(X, real[:, 0].astype("U")))
    # pandas strings and Categoricals of strings, as in memory: the targets
    # were made an object array before the check, and fitted as numbers.
    # Categories that are numbers, known or not yet computed, are numbers.
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    labels = np.where(real[:, 0] > np.median(real[:, 0]), "2.5", "1.5")
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=3)
    for y in (pd.Series(labels, dtype="string"), pd.Series(pd.Categorical(labels))):
        with pytest.raises(ValueError, match="y holds strings"):
            _reg().fit(frame, dd.from_pandas(y, npartitions=3))
    numbers = dd.from_pandas(pd.Series(labels.astype(float)), npartitions=3)
    with pytest.raises(ValueError, match="y holds strings"):
        _reg().fit(frame, numbers.astype(str).astype("category"))
    _fit(_reg(max_iter=2), frame, numbers.astype("category"))
