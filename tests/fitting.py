"""Small fits of SoftplusMLPClassifier that several test files share: the
data sets, the classifier with the tests' defaults, a fit for an exact
number of epochs, and the trained point and objective of a fitted model
for comparison with independent computations."""

import warnings

import numpy as np
from numpy.testing import assert_allclose
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier
from skmlp._evaluation.objective import Objective
from skmlp._math.layout import ParameterLayout

LR = 0.05  # every test passes its learning rate: the default may change


def scaled_iris():
    """Iris, each feature standardised."""
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def small_problem(n_classes=3, n_samples=60):
    """A small problem of 5 features, 3 of them informative."""
    return make_classification(
        n_samples=n_samples,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        n_classes=n_classes,
        random_state=0,
    )


def many_classes(seed):
    """100 standard normal rows of 5 features with 50 classes drawn at
    random: a loss far from quadratic, on which the adaptive step overshot
    under NAG's momentum before its safeguard (the user guide's "NAG's
    safeguard")."""
    rng = np.random.RandomState(seed)
    return rng.standard_normal((100, 5)), rng.randint(50, size=100)


def classifier(**params):
    """The classifier of the tests: 8 hidden units, learning rate LR, seed 0."""
    defaults = dict(hidden_layer_sizes=(8,), learning_rate_init=LR, random_state=0)
    return SoftplusMLPClassifier(**{**defaults, **params})


def fit_quietly(clf, *args, **kwargs):
    """fit without the ConvergenceWarning of a deliberately short max_iter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(*args, **kwargs)


def no_stop(max_iter):
    """Parameters that run exactly max_iter epochs."""
    return dict(max_iter=max_iter, tol=0.0, n_iter_no_change=max_iter + 1)


def layout_and_theta(clf):
    """The parameter layout of clf and its weights packed in one vector."""
    network = ParameterLayout([clf.n_features_in_, *[c.shape[1] for c in clf.coefs_]])
    return network, network.pack(clf.coefs_, clf.intercepts_, clf.coefs_[0].dtype)


def full_batch_objective(clf, X, y):
    """The full-batch training objective of clf, unit sample weights."""
    network, _ = layout_and_theta(clf)
    codes = np.searchsorted(clf.classes_, y)
    return Objective(network, X, codes, np.ones(X.shape[0]), clf.alpha)


def assert_same_model(a, b, rtol=1e-12, atol=1e-12):
    """Same weights and intercepts, of the same dtypes, within tolerances."""
    assert len(a.coefs_) == len(b.coefs_)
    for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert x.dtype == y.dtype
        assert_allclose(x, y, rtol=rtol, atol=atol)


def as_rows_without_fingerprints(monkeypatch):
    """Make every ``partial_fit`` call a full batch, as the calls on rows
    without a fingerprint (a Dask cluster's) are: the adaptive step then
    goes on across calls on other rows, which in memory are chunks of a
    stream (``_training.loop._is_chunk``) whose 'auto' backtracks."""
    from skmlp._training import loop

    monkeypatch.setattr(loop, "_rows_fingerprint", lambda objective: "")
