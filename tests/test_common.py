"""scikit-learn's estimator checks, with no expected failures, for the
classifier and the regressor."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.utils.estimator_checks import (
    check_regressor_multioutput,
    parametrize_with_checks,
)

from skmlp import SoftplusMLPClassifier, SoftplusMLPRegressor

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
    # The regressor, for each solver and each loss, full batch and
    # mini-batch (the 'auto' step of mini-batches is backtracking, of GD
    # with mini-batches too).
    *(
        SoftplusMLPRegressor(solver=solver, loss=loss, batch_size=batch_size)
        for loss in ("squared_error", "poisson")
        for solver, batch_size in (
            ("gd", None),
            ("gd", 64),
            ("nag", None),
            ("nag", 64),
            ("lbfgs", None),
        )
    ),
]


def _check_name(check):
    return getattr(check, "func", check).__name__


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    if _check_name(check) == "check_regressor_multioutput" and (
        getattr(estimator, "loss", None) == "poisson"
    ):
        # scikit-learn's check fits make_regression's targets, negative ones
        # included, whatever the tags say (its other checks make y positive
        # for a positive_only target tag): the Poisson deviance rightly
        # rejects them. The same check on the absolute values of those
        # targets takes its place.
        check_positive_multioutput(estimator)
        return
    check(estimator)


def check_positive_multioutput(estimator):
    """scikit-learn's ``check_regressor_multioutput`` on non-negative
    targets: float64 predictions of the shape of ``y``."""
    X, y = make_regression(random_state=42, n_targets=5, n_samples=11, n_features=10)
    y = np.abs(y)
    y_pred = clone(estimator).fit(X, y).predict(X)
    assert y_pred.dtype == np.float64
    assert y_pred.shape == y.shape


def test_the_positive_multioutput_check_is_scikit_learns():
    # The replacement above is scikit-learn's check but for the targets'
    # sign: both pass with the squared error.
    estimator = SoftplusMLPRegressor(max_iter=5)
    check_positive_multioutput(estimator)
    check_regressor_multioutput("SoftplusMLPRegressor", estimator)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (SoftplusMLPClassifier, "MLPClassifier"),
        (SoftplusMLPRegressor, "MLPRegressor"),
    ],
)
def test_positional_parameters_are_those_of_scikit_learns_mlp(ours, theirs):
    # scikit-learn passes only the first parameters by position (SLEP009);
    # the rest are keyword-only. MLP*'s positional ones but ``activation``
    # (softplus is the model) are ours, in their order.
    import inspect

    import sklearn.neural_network

    def positional(cls):
        return [
            name
            for name, parameter in inspect.signature(cls).parameters.items()
            if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        ]

    expected = [
        name
        for name in positional(getattr(sklearn.neural_network, theirs))
        if name != "activation"
    ]
    if theirs == "MLPRegressor" and "loss" not in expected:
        # MLPRegressor took ``loss`` (before hidden_layer_sizes) in
        # scikit-learn 1.7; ours has it on every supported version.
        expected.insert(0, "loss")
    assert positional(ours) == expected
    with pytest.raises(TypeError, match="positional"):
        ours(*[None] * len(expected), "nag")
