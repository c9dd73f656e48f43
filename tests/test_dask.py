"""Scaling out: a grid search on a Dask cluster, and out-of-core training.

The Dask tests skip when dask, distributed or dask-ml (the ``dask`` extra)
is not installed. The cluster listens on 127.0.0.1 only and is shut down by
its fixture.
"""

import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier

CHUNK = 500


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=2000, n_features=8, n_informative=5, n_redundant=0,
        n_classes=3, random_state=0,
    )  # fmt: skip
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _clf(**params):
    params = {
        "hidden_layer_sizes": (8,),
        "learning_rate_init": 0.3,
        "random_state": 0,
        **params,
    }
    return SoftplusMLPClassifier(**params)


def test_grid_search_on_a_dask_cluster_matches_the_local_search(data, dask_client):
    from distributed import get_task_stream

    X, y = data
    grid = {"learning_rate_init": [0.05, 0.3], "solver": ["gd", "nag"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        local = GridSearchCV(_clf(max_iter=40), grid, cv=3).fit(X, y)
        with get_task_stream(dask_client) as tasks, joblib.parallel_backend("dask"):
            on_cluster = GridSearchCV(_clf(max_iter=40), grid, cv=3, n_jobs=-1)
            on_cluster.fit(X, y)

    # The fits ran on the cluster's workers, not in this process.
    workers = {task["worker"] for task in tasks.data}
    assert workers <= set(dask_client.scheduler_info()["workers"])
    assert workers
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        assert_allclose(on_cluster.cv_results_[key], local.cv_results_[key])
    assert on_cluster.best_params_ == local.best_params_
    assert_array_equal(on_cluster.predict_proba(X), local.predict_proba(X))


def test_partial_fit_over_memmap_chunks_is_a_mini_batch_fit(data, tmp_path):
    # Each partial_fit call is one full-batch step on its chunk, the solver
    # state carrying over: exactly fit() with batch_size=CHUNK, shuffle=False.
    X, y = data
    on_disk = np.lib.format.open_memmap(
        tmp_path / "X.npy", mode="w+", dtype=X.dtype, shape=X.shape
    )
    on_disk[:] = X
    on_disk.flush()
    del on_disk
    X_disk = np.load(tmp_path / "X.npy", mmap_mode="r")
    assert isinstance(X_disk, np.memmap)
    assert X_disk.shape[0] == 4 * CHUNK

    n_epochs = 10
    classes = np.unique(y)
    # The chunks are mini-batches, which the estimator cannot tell from
    # partial_fit calls on the full batch: the momentum is given.
    incremental = _clf(momentum=0.9)
    for _ in range(n_epochs):
        for start in range(0, X_disk.shape[0], CHUNK):
            rows = slice(start, start + CHUNK)
            incremental.partial_fit(X_disk[rows], y[rows], classes=classes)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mini_batch = _clf(
            batch_size=CHUNK, shuffle=False, max_iter=n_epochs, momentum=0.9
        )
        mini_batch.fit(X, y)
    for coef, expected in zip(incremental.coefs_, mini_batch.coefs_):
        assert_allclose(coef, expected, rtol=1e-12, atol=1e-14)
    assert incremental.n_iter_ == n_epochs * 4
    assert incremental.score(X, y) > 0.7


def test_dask_ml_incremental_trains_block_by_block_on_the_cluster(data, dask_client):
    # With the client active, each partial_fit is a task on a worker and the
    # model travels (pickled) from one task to the next.
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = data
    X_dask = da.from_array(X, chunks=(CHUNK, X.shape[1]))
    y_dask = da.from_array(y, chunks=CHUNK)
    classes = np.unique(y)

    incremental = wrappers.Incremental(_clf(), shuffle_blocks=False)
    incremental.fit(X_dask, y_dask, classes=classes)

    expected = _clf()
    for start in range(0, len(X), CHUNK):
        rows = slice(start, start + CHUNK)
        expected.partial_fit(X[rows], y[rows], classes=classes)
    for coef, expected_coef in zip(incremental.estimator_.coefs_, expected.coefs_):
        assert_array_equal(coef, expected_coef)
    # Prediction on a dask array is block-wise too.
    predicted = incremental.predict(X_dask).compute()
    assert_array_equal(predicted, expected.predict(X))
