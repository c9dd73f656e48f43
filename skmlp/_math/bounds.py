"""Bounds on the network's outputs and on the loss over a box of inputs.

Every row lies in the box of its features' ranges (:func:`feature_range`),
so interval arithmetic through the layers (:func:`output_range`) bounds the
outputs of all the rows at once, and the datafit's ``loss_bound`` turns
that into a bound on every row's loss (:func:`loss_bound_in_box`): what
``Objective.loss_bound`` adds the penalty to, without a pass over the rows.
"""

import numpy as np
import scipy.sparse as sp


def output_range(params, low, high):
    """Bounds on the outputs ``z_{H+1}`` of every input between ``low`` and
    ``high`` (vectors of ``n_features``): interval arithmetic through the
    layers. ``params[l]`` is ``W_l^T`` stacked over ``b_l``
    (``ParameterLayout.blocks``), so ``param[:-1]`` below is ``W_l^T``.

    An input in the box of centre ``c = (high + low) / 2`` and radius
    ``r = (high - low) / 2`` gives ``z = W x + b`` within ``W c + b`` plus or
    minus ``|W| r``; softplus is increasing, so the next layer's inputs lie
    between the softplus of those ends. Computed in float64, which holds
    bounds that the data's own precision would round or overflow.
    """
    low, high = (np.asarray(end, np.float64) for end in (low, high))
    for layer, param in enumerate(params):
        weights, bias = param[:-1].astype(np.float64), param[-1]
        centre, radius = (high + low) / 2, (high - low) / 2
        centre, radius = centre @ weights + bias, radius @ np.abs(weights)
        low, high = centre - radius, centre + radius
        if layer < len(params) - 1:
            low, high = np.logaddexp(0, low), np.logaddexp(0, high)
    return low, high


def feature_range(X):
    """The smallest and the largest value of each column of ``X``."""
    ends = X.min(axis=0), X.max(axis=0)
    return [
        np.ravel(end.toarray() if sp.issparse(end) else np.asarray(end)) for end in ends
    ]


def loss_bound_in_box(layout, theta, datafit, feature_range):
    """The largest loss of any row whose features lie in
    ``feature_range = (low, high)``, whatever its target: the datafit's
    ``loss_bound`` over the :func:`output_range` of that box."""
    return datafit.loss_bound(*output_range(layout.blocks(theta), *feature_range))
