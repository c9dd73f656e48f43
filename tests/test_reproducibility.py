"""Same seed, same bits: across runs, processes and (to rounding) dtypes."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skmlp import SoftplusMLPClassifier

FIT_AND_HASH = textwrap.dedent(
    """
    import hashlib, warnings
    import numpy as np
    from sklearn.datasets import make_classification
    from skmlp import SoftplusMLPClassifier

    X, y = make_classification(n_samples=600, n_features=12, n_classes=3,
                               n_informative=6, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = SoftplusMLPClassifier(hidden_layer_sizes=(16, 8), batch_size=64,
                                    learning_rate_init=0.05, max_iter=12,
                                    random_state=7).fit(X, y)
    digest = hashlib.sha256()
    for array in clf.coefs_ + clf.intercepts_:
        digest.update(np.ascontiguousarray(array).tobytes())
    print(digest.hexdigest())
    """
)


def _hash_in_this_process():
    namespace = {}
    exec(
        compile(FIT_AND_HASH.replace("print(", "result = ("), "<fit>", "exec"),
        namespace,
    )
    return namespace["result"]


def test_same_random_state_gives_bit_identical_weights_across_processes():
    here = _hash_in_this_process()
    assert here == _hash_in_this_process()
    for _ in range(2):
        other = subprocess.run(
            [sys.executable, "-c", FIT_AND_HASH],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert other == here


def test_different_random_states_give_different_weights():
    X, y = load_iris(return_X_y=True)
    a = SoftplusMLPClassifier(max_iter=1, random_state=0, learning_rate_init=0.1)
    b = SoftplusMLPClassifier(max_iter=1, random_state=1, learning_rate_init=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert not np.array_equal(a.fit(X, y).coefs_[0], b.fit(X, y).coefs_[0])


@pytest.mark.parametrize("solver", ["gd", "nag"])
def test_float32_and_float64_fits_agree_to_float32_precision(solver):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(
        hidden_layer_sizes=(16,),
        solver=solver,
        learning_rate_init=0.05,
        max_iter=300,
        tol=0.0,
        n_iter_no_change=10**6,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        single = SoftplusMLPClassifier(**params).fit(X.astype(np.float32), y)
        double = SoftplusMLPClassifier(**params).fit(X, y)
    assert single.coefs_[0].dtype == np.float32
    assert double.coefs_[0].dtype == np.float64
    # The same initial draws (rounded to float32 for the single run), so the
    # losses over the first iterations agree to float32 precision.
    np.testing.assert_allclose(
        single.loss_curve_[:20], double.loss_curve_[:20], rtol=1e-5
    )
    np.testing.assert_allclose(single.loss_curve_, double.loss_curve_, rtol=1e-3)
    np.testing.assert_array_equal(single.predict(X), double.predict(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_random_state_instance_drawn_from_after_fit_leaves_the_next_partial_fit():
    # fit draws its mini-batch orders from the RandomState instance given as
    # random_state; the model keeps a generator of its own. It was that very
    # instance: the user's next draws from it changed the order of the next
    # partial_fit's mini-batches.
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(hidden_layer_sizes=(4,), batch_size=30, max_iter=2)
    untouched = SoftplusMLPClassifier(
        random_state=np.random.RandomState(0), **params
    ).fit(X, y)
    random_state = np.random.RandomState(0)
    clf = SoftplusMLPClassifier(random_state=random_state, **params).fit(X, y)
    random_state.permutation(len(y))  # the user's own draw
    untouched.partial_fit(X, y)
    clf.partial_fit(X, y)
    assert clf.loss_curve_ == untouched.loss_curve_
    for a, b in zip(clf.coefs_, untouched.coefs_):
        np.testing.assert_array_equal(a, b)
