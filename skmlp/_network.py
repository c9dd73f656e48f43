"""The network's mathematics on one flat parameter vector.

A ``Network`` knows the layer sizes and where each weight matrix and intercept
vector lives inside a flat vector ``theta``; ``Objective`` is the training
objective of one set of rows as a function of ``theta``. Solvers see only the
flat vector and the objective, never layers.

The objective is scikit-learn's ``MLPClassifier`` one, with sample weights::

    L(theta) = sum_i w_i CE_i / sum_i w_i + alpha / (2 sum_i w_i) * sum_l ||W_l||_F^2

Rows are processed in fixed chunks so that no buffer grows with the number of
samples beyond the chunk size, and so that the order in which partial
gradients are added up never depends on anything but the data.
"""

import numpy as np

from ._activations import log_softmax, softplus, softplus_with_derivative

# Rows per chunk: small enough for a chunk's activations to stay in cache,
# large enough for the matrix products to run at full BLAS speed.
CHUNK_SIZE = 1024


class Network:
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
        offset = 0
        for fan_in, fan_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            coef = slice(offset, offset + fan_in * fan_out)
            offset = coef.stop
            intercept = slice(offset, offset + fan_out)
            offset = intercept.stop
            self._slices.append((coef, intercept, (fan_in, fan_out)))
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

    def pack(self, coefs, intercepts, dtype):
        """A new flat vector holding copies of ``coefs`` and ``intercepts``."""
        theta = np.empty(self.n_params, dtype=dtype)
        for (c, b, shape), coef, intercept in zip(self._slices, coefs, intercepts):
            if coef.shape != shape or intercept.shape != shape[1:]:
                raise ValueError(
                    f"Layer of shape {coef.shape} does not fit the network "
                    f"{self.layer_sizes}."
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


def forward_log_proba(coefs, intercepts, X):
    """Log-probabilities of the classes for the rows of ``X``.

    Works chunk by chunk; ``X`` may be dense or sparse CSR.
    """
    n_samples = X.shape[0]
    dtype = np.result_type(X.dtype, coefs[0].dtype) if coefs else X.dtype
    out = np.empty((n_samples, intercepts[-1].shape[0]), dtype=dtype)
    last = len(coefs) - 1
    for start in range(0, n_samples, CHUNK_SIZE):
        stop = min(start + CHUNK_SIZE, n_samples)
        a = X[start:stop]
        for layer, (coef, intercept) in enumerate(zip(coefs, intercepts)):
            z = a @ coef
            z += intercept
            a = z if layer == last else softplus(z)
        out[start:stop] = log_softmax(a, axis=1)
    return out


class Objective:
    """Training objective of a set of rows as a function of ``theta``.

    Parameters
    ----------
    network : Network
        The layout of ``theta``.
    X : {ndarray, sparse CSR matrix} of shape (n_samples, n_features)
        Input rows.
    y : ndarray of int of shape (n_samples,)
        Class indices in ``range(n_outputs)``.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights with a positive sum.
    alpha : float
        Strength of the L2 penalty on the weights (not the intercepts).
    """

    def __init__(self, network, X, y, sample_weight, alpha):
        self.network = network
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.alpha = alpha
        self.weight_sum = float(sample_weight.sum())
        self.n_evaluations = 0

    def _penalty(self, theta):
        coefs, _ = self.network.unpack(theta)
        squares = sum(float(np.dot(c.ravel(), c.ravel())) for c in coefs)
        return 0.5 * self.alpha * squares / self.weight_sum

    def value(self, theta):
        """The objective at ``theta``."""
        self.n_evaluations += 1
        coefs, intercepts = self.network.unpack(theta)
        log_proba = forward_log_proba(coefs, intercepts, self.X)
        rows = np.arange(self.X.shape[0])
        cross_entropy = -float(np.dot(self.sample_weight, log_proba[rows, self.y]))
        return cross_entropy / self.weight_sum + self._penalty(theta)

    def value_and_gradient(self, theta):
        """The objective at ``theta`` and its gradient, a new flat vector."""
        self.n_evaluations += 1
        network = self.network
        coefs, intercepts = network.unpack(theta)
        gradient = np.zeros_like(theta)
        grad_coefs, grad_intercepts = network.unpack(gradient)
        n_samples = self.X.shape[0]
        last = network.n_layers - 1
        cross_entropy = 0.0
        for start in range(0, n_samples, CHUNK_SIZE):
            stop = min(start + CHUNK_SIZE, n_samples)
            rows = np.arange(stop - start)
            y = self.y[start:stop]
            weight = self.sample_weight[start:stop]

            activations = [self.X[start:stop]]
            derivatives = []
            for layer in range(last + 1):
                z = activations[-1] @ coefs[layer]
                z += intercepts[layer]
                if layer == last:
                    activations.append(z)
                else:
                    a, d = softplus_with_derivative(z)
                    activations.append(a)
                    derivatives.append(d)

            log_proba = log_softmax(activations.pop(), axis=1)
            cross_entropy -= float(np.dot(weight, log_proba[rows, y]))
            # dCE/dz of the output layer: softmax(z) - onehot(y), weighted.
            delta = np.exp(log_proba)
            delta[rows, y] -= 1
            delta *= (weight / self.weight_sum).astype(delta.dtype)[:, np.newaxis]

            for layer in range(last, -1, -1):
                a = activations[layer]
                grad_coefs[layer] += _transpose_product(a, delta)
                grad_intercepts[layer] += delta.sum(axis=0)
                if layer > 0:
                    delta = delta @ coefs[layer].T
                    delta *= derivatives[layer - 1]

        scale = self.alpha / self.weight_sum
        for grad_coef, coef in zip(grad_coefs, coefs):
            grad_coef += scale * coef
        loss = cross_entropy / self.weight_sum + self._penalty(theta)
        return loss, gradient


def _transpose_product(a, delta):
    """``a.T @ delta`` for dense or sparse ``a``, as a dense array."""
    product = a.T @ delta
    return np.asarray(product)
