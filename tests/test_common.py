"""scikit-learn's estimator checks, with no expected failures."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmlp import SoftplusMLPClassifier

# Any warning fails a check but one: the checks train with the default
# max_iter on data of their own, not always to convergence (scikit-learn's own
# MLPClassifier warns in the same checks), so a ConvergenceWarning is expected.
# Of a mark's filters, the last one given wins.
pytestmark = pytest.mark.filterwarnings(
    "error", "ignore::sklearn.exceptions.ConvergenceWarning"
)

ESTIMATORS = [
    SoftplusMLPClassifier(solver="gd"),
    SoftplusMLPClassifier(solver="nag"),
    # batch_size=64 gives real mini-batches on the checks that train on a few
    # hundred rows (check_classifiers_train uses 300), and with them NAG's
    # constant momentum (momentum='auto' is 0.9 on mini-batches).
    SoftplusMLPClassifier(solver="nag", batch_size=64),
    # L-BFGS trains the separable blobs of check_classifiers_train to
    # probabilities that underflow to 0 (log-probabilities near -6000).
    SoftplusMLPClassifier(solver="lbfgs"),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
