"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skmlp import SoftplusMLPClassifier

ESTIMATORS = [
    SoftplusMLPClassifier(solver="gd"),
    SoftplusMLPClassifier(solver="nag"),
    # batch_size=64 gives real mini-batches on the checks that train on a few
    # hundred rows (check_classifiers_train uses 300).
    SoftplusMLPClassifier(solver="nag", batch_size=64),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
