"""Many threads, one model; several models, many threads."""

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits
from tracing import at_every_line

import skmlp
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


def _attributes_equal(a, b):
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_attributes_equal, a, b))
    return a == b


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("method", ["fit", "partial_fit", "warm-start-fit"])
def test_set_params_between_any_two_lines_of_a_fit_is_not_undone(method):
    # Another thread's set_params can land between any two lines of a fit;
    # here it lands between every two, deterministically: each line checks
    # that the value set at the line before is still there, then sets a new
    # one. The commit at the end of the call used to copy every attribute
    # and write the copy back, which undid what was set in between. The
    # parameter changed is one this fit does not read (validation_fraction
    # without early stopping), so the model is that of an undisturbed fit.
    X, y = make_classification(
        n_samples=60, n_features=4, n_classes=3, n_informative=3, n_redundant=0,
        random_state=0,
    )  # fmt: skip
    params = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    clf = SoftplusMLPClassifier(warm_start=method == "warm-start-fit", **params)
    if method != "fit":
        clf.fit(X, y)
    call = clf.partial_fit if method == "partial_fit" else clf.fit
    reference = SoftplusMLPClassifier(**clf.get_params())
    if method != "fit":
        reference.fit(X, y)
    getattr(reference, call.__name__)(X, y)
    undone, n_lines = [], 0

    def set_params():
        nonlocal n_lines
        expected = 0.1 + n_lines * 1e-6
        if clf.__dict__["validation_fraction"] != expected:
            undone.append((n_lines, clf.__dict__["validation_fraction"], expected))
        n_lines += 1
        clf.set_params(validation_fraction=0.1 + n_lines * 1e-6)

    package = Path(skmlp.__file__).parent
    modules = [
        package / name for name in ("_mlp.py", "_training/loop.py", "_validation.py")
    ]
    clf.set_params(validation_fraction=0.1)
    with at_every_line(modules, set_params):
        call(X, y)
    assert n_lines > 100
    assert undone == []
    assert clf.validation_fraction == 0.1 + n_lines * 1e-6
    for name in ("coefs_", "intercepts_", "n_iter_", "loss_curve_", "t_"):
        assert _attributes_equal(getattr(clf, name), getattr(reference, name)), name
