"""Many threads, one model; several models, many threads."""

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skmlp import SoftplusMLPClassifier

X, Y = make_classification(
    n_samples=3000, n_features=20, n_informative=8, n_classes=3, random_state=0
)
PARAMS = dict(hidden_layer_sizes=(32,), learning_rate_init=0.1, max_iter=15)


def _fit(random_state, solver="nag"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SoftplusMLPClassifier(
            solver=solver, random_state=random_state, **PARAMS
        ).fit(X, Y)


def _fit_on(X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SoftplusMLPClassifier(random_state=0, **PARAMS).fit(X, y)


def test_predict_proba_from_eight_threads_equals_the_serial_result():
    clf = _fit(0)
    chunks = np.array_split(np.arange(len(X)), 8)
    serial = [clf.predict_proba(X[rows]) for rows in chunks]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            threaded = list(pool.map(lambda rows: clf.predict_proba(X[rows]), chunks))
            for a, b in zip(serial, threaded):
                np.testing.assert_array_equal(a, b)
    # Splitting the rows differently changes BLAS blocking, hence rounding only.
    np.testing.assert_allclose(np.vstack(serial), clf.predict_proba(X), rtol=1e-12)


# warnings.catch_warnings in _fit is not thread-safe: in threads, the
# 15-epoch fits' ConvergenceWarning can escape it.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fits_of_separate_estimators_in_threads_do_not_interfere():
    settings = [(seed, solver) for seed in range(3) for solver in ("gd", "nag")]
    # OpenBLAS takes thread limits only from the main thread: a fit in another
    # thread runs its products on the BLAS threads as they are, which can
    # round differently from a fit in the main thread (it does with numpy
    # 1.23's OpenBLAS). Limiting BLAS here, as docs/performance.md advises
    # for fits in threads, leaves only interference to show up.
    with threadpool_limits(1, user_api="blas"):
        serial = [_fit(seed, solver) for seed, solver in settings]
        with ThreadPoolExecutor(max_workers=4) as pool:
            threaded = list(pool.map(lambda s: _fit(*s), settings))
    for a, b in zip(serial, threaded):
        assert a.loss_curve_ == b.loss_curve_
        for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
            np.testing.assert_array_equal(wa, wb)


def test_predict_during_a_refit_sees_the_old_model_or_the_new_never_a_mix():
    # The refit learns other labels for the same rows: the old network read
    # through the new classes_ (or the reverse) predicts neither model's
    # labels.
    new_y = 10 + (Y + 1) % 3
    clf = _fit(0)
    old = clf.predict(X)
    new = _fit_on(X, new_y).predict(X)
    assert not np.array_equal(old, new)
    seen, started, done = [], threading.Event(), threading.Event()

    def predict_until_done():
        while not done.is_set():
            seen.append(clf.predict(X))
            started.set()

    thread = threading.Thread(target=predict_until_done)
    thread.start()
    try:
        started.wait()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, new_y)
    finally:
        done.set()
        thread.join()
    np.testing.assert_array_equal(clf.predict(X), new)
    for predicted in seen:
        assert np.array_equal(predicted, old) or np.array_equal(predicted, new)
