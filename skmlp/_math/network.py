"""The network's mathematics as plain functions on arrays, as the user guide
writes it ("The model", "The objective", "The gradient, step by step").

The names are the guide's. The rows are columns, as the guide writes one row
as a column vector: ``x`` of shape ``(n_0, n_rows)`` holds a row in each
column, ``z[l]``, ``a[l]`` and ``d[l]`` have shape ``(n_l, n_rows)``.
``W[l]`` has shape ``(n_{l+1}, n_l)`` and ``b[l]`` has ``n_{l+1}`` entries,
so the estimator's ``coefs_[l]`` is ``W[l].T`` (:func:`parameters` and
:func:`flat` go between the two and the flat vector ``theta``).

Nothing here is fast: every function makes new arrays. They are the
reference that a reader runs on three rows and checks against the guide
(tests/test_network.py does), and that the fast evaluation
(:mod:`skmlp._evaluation.blocks`: blocks of rows, buffers reused, the intercepts in
the same product as the weights) must agree with.
"""

import numpy as np

from .activations import softplus_and_sigmoid
from .penalties import l2


def parameters(layout, theta):
    """``W, b``: the lists of every layer's ``W_l`` and ``b_l`` in the flat
    vector ``theta`` (``W_l`` is the transpose of ``coefs_[l]``; views)."""
    coefs, intercepts = layout.unpack(theta)
    return [coef.T for coef in coefs], intercepts


def flat(layout, dW, db):
    """The flat vector laid out as ``theta`` of the lists ``dW`` and ``db``
    (a gradient, say) of the shapes of ``W`` and ``b``."""
    return layout.pack([dW_l.T for dW_l in dW], db, np.result_type(*dW, *db))


def forward(W, b, x):
    """The forward pass: ``z`` and ``a``, lists indexed by the layer ``l``.

    ``a_0 = x``, ``z_l = W_{l-1} a_{l-1} + b_{l-1}`` for ``l = 1..H+1`` and
    ``a_l = softplus(z_l)`` for the hidden layers ``l = 1..H``. ``z[0]`` is
    None (the input has no pre-activation) and ``a`` stops at ``a[H]``: the
    output ``z[H+1]`` goes to the datafit.
    """
    H = len(W) - 1
    z, a = [None], [x]
    for l in range(1, H + 2):  # noqa: E741 (the guide's l)
        z.append(W[l - 1] @ a[l - 1] + b[l - 1][:, np.newaxis])
        if l <= H:
            a.append(softplus_and_sigmoid(z[l])[0])
    return z, a


def datafit_sum(datafit, z_out, y, sample_weight):
    """``sum_i w_i l_i`` over the rows of the outputs ``z_out = z_{H+1}``
    (one column per row) against their targets ``y``, and the output error
    ``dl_i / dz_{H+1}`` of every row (unweighted), which for the softmax
    cross-entropy is ``d_{H+1} = softmax(z_{H+1}) - y``.

    The datafit's own block computation (:mod:`skmlp._math.datafits`) on copies.
    """
    n_outputs, n_rows = z_out.shape
    targets = datafit.block_targets(y, n_outputs, z_out.dtype)
    error = np.empty_like(z_out)
    work = (error, np.empty(n_rows, z_out.dtype))
    total = datafit.loss(z_out.copy(), targets, sample_weight, error, work)
    return total, error


def backward(W, z, a, d_out):
    """The backward pass from the output error ``d_out = d_{H+1}``:
    ``dW, db``, lists of the gradients of ``sum_i l_i`` (the sum over the
    columns of ``d_out``; scale its columns by weights for a weighted sum).

    ``d_l = sigma(z_l) * (W_l^T d_{l+1})`` for ``l = H..1``, then
    ``dl/dW_{l-1} = d_l a_{l-1}^T`` and ``dl/db_{l-1} = d_l`` summed over
    the rows, for ``l = 1..H+1``.
    """
    H = len(W) - 1
    d = [None] * (H + 2)
    d[H + 1] = d_out
    for l in range(H, 0, -1):  # noqa: E741 (the guide's l)
        d[l] = softplus_and_sigmoid(z[l])[1] * (W[l].T @ d[l + 1])
    dW = [d[l] @ a[l - 1].T for l in range(1, H + 2)]  # noqa: E741 (the guide's l)
    db = [d[l].sum(axis=1) for l in range(1, H + 2)]  # noqa: E741 (the guide's l)
    return dW, db


def objective(W, b, x, y, sample_weight, alpha, datafit):
    """The training objective and its gradient::

        L = sum_i w_i l_i / sum_i w_i + alpha / (2 sum_i w_i) sum_l ||W_l||^2

    Returns ``L, dW, db``, with ``dW`` and ``db`` the gradients of ``L``
    with respect to every ``W_l`` and ``b_l``: the rows' gradients weighted
    by ``w_i / sum_i w_i``, plus ``alpha W_l / sum_i w_i`` from the penalty.
    ``y`` is as the datafit takes it (class indices for the softmax
    cross-entropy, an indicator matrix with one row per row of data for
    the multilabel logistic).
    """
    weight_sum = np.sum(sample_weight)
    z, a = forward(W, b, x)
    total, d_out = datafit_sum(datafit, z[-1], y, sample_weight)
    dW, db = backward(W, z, a, d_out * (sample_weight / weight_sum))
    penalty, penalty_gradient = l2(W, alpha)
    value = total / weight_sum + penalty / weight_sum
    dW = [dW_l + gradient / weight_sum for dW_l, gradient in zip(dW, penalty_gradient)]
    return value, dW, db
