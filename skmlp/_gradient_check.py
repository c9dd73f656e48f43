"""Check the analytic gradient of the training objective by finite differences."""

import copy

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted

from ._datafits import DATAFITS
from ._execution import ThreadedExecutor
from ._layout import ParameterLayout
from ._mlp import SoftplusMLPClassifier
from ._objective import Objective
from ._sklearn_compat import _check_sample_weight
from ._validation import encode_labels, validate_input, view
from ._validation import hidden_layer_sizes as hidden_layer_sizes_of


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
    estimator : SoftplusMLPClassifier or Pipeline
        The estimator whose objective is checked, or a
        :class:`~sklearn.pipeline.Pipeline` whose last step is one: its
        other steps transform ``X`` (fitted ones as they are, unfitted ones
        fitted on ``X`` as ``Pipeline.fit`` would, on a copy) and its last
        step is checked on the result.

    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Rows of the objective (for a pipeline, before its first step).

    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Class labels, or an indicator matrix of multilabel targets (whose
        objective is the binary cross-entropy of logistic outputs, as in
        ``fit``); for a fitted estimator, targets of the kind it was fitted
        on, labels of ``classes_``.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the rows; None weighs every row 1.

    epsilon : float, default=1e-6
        Half the width of the central difference
        ``(L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps)``, whose error is
        ``O(eps^2)`` from truncation plus ``O(machine eps / eps)`` from
        rounding.

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
        if hasattr(learner, "coefs_"):
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
    if not isinstance(estimator, SoftplusMLPClassifier):
        raise TypeError(
            "check_gradients takes a SoftplusMLPClassifier or a Pipeline whose "
            f"last step is one; got {type(estimator).__name__}."
        )
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}.")
    fitted = hasattr(estimator, "coefs_")
    if fitted:
        check_is_fitted(estimator)
    else:
        estimator._validate_params()
    # Validation writes to a view (as in fit), never to the estimator.
    model = view(estimator)
    X, y = validate_input(model, X, y, reset=not fitted)
    X = X.astype(np.float64, copy=False)
    check_classification_targets(y)
    if fitted:
        classes = estimator.classes_
        unseen = np.setdiff1d(unique_labels(y), classes) if y.ndim == 1 else []
        if len(unseen):
            raise ValueError(
                f"`y` has classes {unseen} not in the estimator's classes_ {classes}."
            )
        targets = encode_labels(model, y, incremental=True, first_call=False)
        layer_sizes = (X.shape[1], *(coef.shape[1] for coef in estimator.coefs_))
        network = ParameterLayout(layer_sizes)
        theta = network.pack(estimator.coefs_, estimator.intercepts_, np.float64)
    else:
        targets = encode_labels(model, y, incremental=False, first_call=True)
        hidden_layer_sizes = hidden_layer_sizes_of(estimator.hidden_layer_sizes)
        network = ParameterLayout(
            (X.shape[1], *hidden_layer_sizes, len(model.classes_))
        )
        if random_state is None:
            random_state = estimator.random_state
        # fit draws from check_random_state(random_state) first of all: the
        # same draws from a copy give fit's initial weights, and leave a
        # RandomState instance (the user's or the estimator's) where it was.
        rng = copy.deepcopy(check_random_state(random_state))
        theta = network.initialize(rng, np.float64)
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if sample_weight.sum() <= 0:
        raise ValueError("The sum of sample_weight must be positive.")

    # One set of threads for the 2 * n_params + 1 evaluations, let go at the
    # end.
    with ThreadedExecutor() as executor:
        objective = Objective(
            network,
            X,
            targets,
            sample_weight,
            estimator.alpha,
            datafit=DATAFITS[model.out_activation_](),
            executor=executor,
        )
        _, gradient = objective.value_and_gradient(theta)
        numeric = np.empty_like(theta)
        point = theta.copy()
        for i, value in enumerate(theta):
            point[i] = value + epsilon
            upper, above = objective.value(point), point[i]
            point[i] = value - epsilon
            lower, below = objective.value(point), point[i]
            point[i] = value
            # Divide by the width actually represented, not by 2 * epsilon.
            numeric[i] = (upper - lower) / (above - below)

    scale = max(np.linalg.norm(gradient), np.linalg.norm(numeric))
    if scale == 0.0:
        return 0.0
    return float(np.linalg.norm(gradient - numeric) / scale)
