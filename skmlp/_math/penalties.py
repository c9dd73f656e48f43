"""Penalties: the part of the objective that sees only the parameters.

A penalty declares one method, ``value_and_gradient(theta, scale)``: the
penalty at the flat vector ``theta`` times ``scale``, and its gradient
times ``scale`` as a new vector, which the objective then adds the
datafit's gradient into. :func:`l2` is the same penalty as a plain function
of the weight matrices ``W_l`` (:mod:`skmlp._math.network`).
"""

import numpy as np

from .reduction import dot


def l2(W, alpha):
    """``alpha / 2 * sum_l ||W_l||_F^2`` and its gradient, the list of
    ``alpha W_l``."""
    value = alpha / 2 * sum(np.sum(W_l**2) for W_l in W)
    return value, [alpha * W_l for W_l in W]


class L2:
    """``alpha / 2 * sum_l ||W_l||_F^2``: the weights, not the intercepts.

    Parameters
    ----------
    layout : ParameterLayout
        Where the weights lie in ``theta``.
    alpha : float
        The strength of the penalty.
    """

    def __init__(self, layout, alpha):
        self.layout = layout
        self.alpha = alpha
        self._factors = None

    def value_and_gradient(self, theta, scale=1.0):
        # alpha * scale on the weights and 0 on the intercepts, as one
        # vector: the gradient is then one pass over theta, and the value
        # one dot product. It is made again only when the scale changes
        # (mini-batches of equal weight share it).
        # A penalty of strength 0 is 0 at any scale: weights whose sum is
        # below 1 / (the largest float), subnormal, make the scale inf, and
        # 0 * inf was NaN, a "divergence" of a fit that alpha=0 makes
        # depend only on the ratios of the weights.
        factor = self.alpha * scale if self.alpha else 0.0
        if self._factors is None or self._factors[0] != (factor, theta.dtype):
            factors = np.zeros_like(theta)
            for coef in self.layout.unpack(factors)[0]:
                coef[...] = factor
            self._factors = (factor, theta.dtype), factors
        gradient = theta * self._factors[1]
        return 0.5 * dot(gradient, theta), gradient
