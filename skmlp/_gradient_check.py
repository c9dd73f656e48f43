"""Check the analytic gradient of the training objective by finite differences."""

import copy
from numbers import Real

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._evaluation.execution import ThreadedExecutor
from ._evaluation.objective import Objective
from ._math.datafits import DATAFITS
from ._mlp import SoftplusMLPClassifier, SoftplusMLPRegressor, starting_point
from ._sklearn_compat import Interval, validate_parameters, validate_params
from ._validation import (
    fitted_hidden_layer_sizes,
    hidden_layer_sizes,
    starts_afresh,
    validate_call,
    view,
)


@validate_params(
    {
        # The estimator's own kinds are checked below, with their message.
        "estimator": "no_validation",
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like", "sparse matrix"],
        "sample_weight": ["array-like", None],
        "epsilon": [Interval(Real, 0, np.inf, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=False,
)
def check_gradients(
    estimator, X, y, sample_weight=None, *, epsilon=1e-6, random_state=None
):
    """Relative error of the analytic gradient against central differences.

    Compares the gradient of the training objective of ``estimator`` on
    ``X``, ``y`` (the one ``fit`` minimises, L2 penalty and sample weights
    included) with central finite differences along every coordinate of the
    flat parameter vector, for any ``hidden_layer_sizes``. A fitted estimator
    is checked at its current weights; an unfitted one at the initial weights
    ``fit`` would start from. The estimator is not fitted nor modified.

    The check always runs in float64 (``X`` is converted), where a correct
    gradient gives an error around ``1e-9`` and a wrong one an error of order
    one.

    Parameters
    ----------
    estimator : SoftplusMLPClassifier, SoftplusMLPRegressor or Pipeline
        The estimator whose objective is checked, or a
        :class:`~sklearn.pipeline.Pipeline` whose last step is one: its
        other steps transform ``X`` and its last step is checked on the
        result. A fitted last step is checked on the rows as the fitted
        pipeline transforms them (its other steps must be fitted too); an
        unfitted one on the rows as ``Pipeline.fit`` would transform them,
        the other steps fitted on ``X`` afresh, on a copy.

    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Rows of the objective (for a pipeline, before its first step).

    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Class labels, or an indicator matrix of multilabel targets (whose
        objective is the binary cross-entropy of logistic outputs, as in
        ``fit``); a regressor's real targets (one column per output); for a
        fitted estimator, targets of the kind it was fitted on, labels of
        ``classes_`` or as many outputs.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the rows; None weighs every row 1.

    epsilon : float, default=1e-6
        Half the width of the central difference
        ``(L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps)``, whose error is
        ``O(eps^2)`` from truncation plus ``O(machine eps / eps)`` from
        rounding. One below the spacing of a weight's floats, which
        ``theta +- eps`` rounds back to ``theta``, is a ValueError.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights of an unfitted estimator, as its own
        ``random_state`` would in ``fit``; None uses the estimator's
        ``random_state``. A RandomState instance is copied, not advanced.
        Ignored for a fitted estimator.

    Returns
    -------
    relative_error : float
        ``||g - g_fd|| / max(||g||, ||g_fd||)`` for the analytic gradient
        ``g`` and the finite-difference one ``g_fd`` (0 if both are zero).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmlp import SoftplusMLPClassifier, check_gradients
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftplusMLPClassifier(hidden_layer_sizes=(7, 5), alpha=0.1)
    >>> check_gradients(clf, X, y, random_state=0) < 1e-7
    True
    """
    if isinstance(estimator, Pipeline):
        transformers, learner = estimator[:-1], estimator[-1]
        if not transformers.steps:
            # A pipeline of the estimator alone: nothing to transform (an
            # empty Pipeline has no transform).
            pass
        elif hasattr(learner, "coefs_"):
            X = transformers.transform(X)
        else:
            X = clone(transformers).fit_transform(X, y)
        return check_gradients(
            learner,
            X,
            y,
            sample_weight,
            epsilon=epsilon,
            random_state=random_state,
        )
    if not isinstance(estimator, (SoftplusMLPClassifier, SoftplusMLPRegressor)):
        raise TypeError(
            "check_gradients takes a SoftplusMLPClassifier, a "
            "SoftplusMLPRegressor or a Pipeline whose last step is one; got "
            f"{type(estimator).__name__}."
        )
    fitted = hasattr(estimator, "coefs_")
    # The parameters, fitted or not, as partial_fit validates them: a fitted
    # estimator's alpha of -1 or NaN was taken as it was (and "x" failed in
    # a TypeError deep in the penalty).
    validate_parameters(estimator)
    if fitted:
        check_is_fitted(estimator)
        # The network the estimator holds, whatever hidden_layer_sizes says
        # now; its weights start the check as they would a warm start.
        hidden = fitted_hidden_layer_sizes(estimator)
    else:
        hidden = hidden_layer_sizes(estimator.hidden_layer_sizes)
    # Validation writes to a view (as in fit), never to the estimator; the
    # data of a fitted estimator are validated as those of a partial_fit
    # that goes on from it (its columns, the kind of targets, classes_).
    model = view(estimator)
    if not fitted:
        if random_state is None:
            random_state = estimator.random_state
        # fit draws its initial weights first of all from
        # check_random_state(random_state): the same draws from a copy give
        # them, and leave a RandomState instance (the user's or the
        # estimator's) where it was.
        model.random_state = copy.deepcopy(check_random_state(random_state))
    first_call = starts_afresh(model, hidden, fitted, classes=None)
    X, targets, sample_weight = validate_call(
        model,
        X,
        y,
        sample_weight,
        fitted,
        first_call,
        weight_dtype=np.float64,
        keep_model_dtype=False,
    )
    X = X.astype(np.float64, copy=False)
    # fit's starting point, in float64 (without a partial_fit's history).
    datafit = DATAFITS[model.out_activation_]()
    start = starting_point(
        model,
        X.shape[1],
        np.float64,
        hidden,
        first_call,
        continuing=False,
        intercepts=datafit.intercept_only(targets, sample_weight),
    )

    # One set of threads for the 2 * n_params + 1 evaluations, let go at the
    # end.
    with ThreadedExecutor() as executor:
        objective = Objective(
            start.layout,
            X,
            targets,
            sample_weight,
            estimator.alpha,
            datafit=datafit,
            executor=executor,
        )
        theta = start.theta
        _, gradient = objective.value_and_gradient(theta)
        numeric = np.empty_like(theta)
        point = theta.copy()
        for i, value in enumerate(theta):
            point[i] = value + epsilon
            upper, above = objective.value(point), point[i]
            point[i] = value - epsilon
            lower, below = objective.value(point), point[i]
            point[i] = value
            if above == below:
                raise ValueError(
                    f"epsilon={epsilon:g} is below the spacing of the floats "
                    f"at the weight {value:.6g} (parameter {i}): theta +- "
                    "epsilon rounds to theta, and the difference is 0 / 0. "
                    "Choose a larger epsilon (the default is 1e-6)."
                )
            # Divide by the width actually represented, not by 2 * epsilon.
            numeric[i] = (upper - lower) / (above - below)
    return _relative_error(gradient, numeric)


def _relative_error(gradient, numeric):
    """``||g - g_fd|| / max(||g||, ||g_fd||)``, 0 if both are zero, with
    both scaled by their largest entry first: the gradients of inputs of
    1e160 (which ``fit`` trains on) square past the largest float, and the
    norms were inf, the error 0 for a right gradient and NaN for a wrong
    one."""
    largest = max(np.abs(gradient).max(initial=0.0), np.abs(numeric).max(initial=0.0))
    if largest == 0.0:
        return 0.0
    gradient, numeric = gradient / largest, numeric / largest
    scale = max(np.linalg.norm(gradient), np.linalg.norm(numeric))
    return float(np.linalg.norm(gradient - numeric) / scale)
