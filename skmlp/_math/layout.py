"""The layout of the flat parameter vector: where each layer's weights live.

Solvers see one flat vector ``theta``; the estimator and the objective see it
through the per-layer views that a :class:`ParameterLayout` gives.
"""

import numpy as np


class ParameterLayout:
    """Layer sizes and the layout of the flat parameter vector.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.

    Notes
    -----
    Layer ``l`` stores ``coefs[l]`` of shape ``(fan_in, fan_out)`` row-major,
    followed by ``intercepts[l]`` of shape ``(fan_out,)``. The number of
    parameters is ``sum_l (fan_in_l + 1) * fan_out_l``: 131 for 4 -> 16 -> 3.
    """

    def __init__(self, layer_sizes):
        self.layer_sizes = tuple(int(n) for n in layer_sizes)
        self._slices = []
        self._blocks = []
        offset = 0
        for fan_in, fan_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            coef = slice(offset, offset + fan_in * fan_out)
            offset = coef.stop
            intercept = slice(offset, offset + fan_out)
            offset = intercept.stop
            self._slices.append((coef, intercept, (fan_in, fan_out)))
            self._blocks.append((slice(coef.start, offset), (fan_in + 1, fan_out)))
        self.n_params = offset

    @property
    def n_layers(self):
        """Number of weight layers (hidden layers + 1)."""
        return len(self._slices)

    def unpack(self, theta):
        """Views of ``theta`` as lists ``coefs`` and ``intercepts``."""
        coefs = [theta[c].reshape(shape) for c, _, shape in self._slices]
        intercepts = [theta[b] for _, b, _ in self._slices]
        return coefs, intercepts

    def blocks(self, theta):
        """Views of ``theta`` as every layer's coefficients stacked over its
        intercepts, of shapes ``(fan_in + 1, fan_out)``.

        The layout stores them one after the other, so that appending a
        column of ones to a layer's input rows gives its pre-activations,
        intercepts included, in one matrix product, and the transposed
        product gives the gradient of both.
        """
        return [theta[block].reshape(shape) for block, shape in self._blocks]

    def pack(self, coefs, intercepts, dtype):
        """A new flat vector holding copies of ``coefs`` and ``intercepts``.

        Raises ``ValueError`` unless they are the layers of this network,
        in number and in shape.
        """
        if len(coefs) != self.n_layers or len(intercepts) != self.n_layers:
            raise ValueError(
                f"The number of layers differs: {len(coefs)} weight matrices "
                f"and {len(intercepts)} intercept vectors for the network "
                f"{self.layer_sizes}, which has {self.n_layers} of each."
            )
        theta = np.empty(self.n_params, dtype=dtype)
        for (c, b, shape), coef, intercept in zip(self._slices, coefs, intercepts):
            if coef.shape != shape:
                raise ValueError(
                    f"Layer of shape {coef.shape} does not fit the network "
                    f"{self.layer_sizes}."
                )
            if intercept.shape != shape[1:]:
                # (The layer's matrix was named for a wrong intercept.)
                raise ValueError(
                    f"Intercepts of shape {intercept.shape} do not fit the layer "
                    f"of shape {shape} of the network {self.layer_sizes}."
                )
            theta[c] = coef.ravel()
            theta[b] = intercept
        return theta

    def initialize(self, random_state, dtype):
        """Glorot-uniform initial parameters, as MLPClassifier's for tanh/relu.

        Weights and intercepts of layer ``l`` are drawn uniformly from
        ``[-b, b]`` with ``b = sqrt(6 / (fan_in + fan_out))``.
        """
        theta = np.empty(self.n_params, dtype=dtype)
        for c, b, (fan_in, fan_out) in self._slices:
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            theta[c] = random_state.uniform(-bound, bound, fan_in * fan_out)
            theta[b] = random_state.uniform(-bound, bound, fan_out)
        return theta
