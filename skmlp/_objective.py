"""The training objective of a set of rows as a function of the flat vector.

``Objective`` is the training objective of one set of rows as a function of
``theta`` (see :class:`~skmlp._layout.ParameterLayout` for its layout);
``forward_log_proba`` is the forward pass alone. Solvers see only the flat
vector and the objective, never layers.

The objective is scikit-learn's ``MLPClassifier`` one, with sample weights::

    L(theta) = sum_i w_i CE_i / sum_i w_i + alpha / (2 sum_i w_i) * sum_l ||W_l||_F^2

Rows are processed in chunks of ``CHUNK_SIZE`` rows, in preallocated buffers,
so that no buffer grows with the number of samples and a chunk's activations
stay in cache. The chunks may be processed by several threads (see
:func:`~skmlp._execution._for_each_chunk`), each with single-threaded BLAS;
their boundaries and the order in which their partial sums are added up
depend on nothing but the data, so results do not depend on the number of
threads.
"""

import numpy as np
import scipy.sparse as sp

from ._activations import log_softmax_inplace, softplus_inplace
from ._execution import SingleThreadedBlas, _for_each_chunk
from ._layout import ParameterLayout

# Rows per chunk: small enough for a chunk's activations to stay in cache,
# large enough for the matrix products to run at full BLAS speed. Changing it
# changes results at the rounding level (the order of the sums over rows).
CHUNK_SIZE = 512


def forward_log_proba(coefs, intercepts, X, n_threads=None):
    """Log-probabilities of the classes for the rows of ``X``.

    Works chunk by chunk, on up to ``n_threads`` threads (by default the
    BLAS thread limit in force, see :class:`SingleThreadedBlas`); ``X`` may
    be dense or sparse CSR.
    """
    n_samples = X.shape[0]
    dtype = np.result_type(X.dtype, coefs[0].dtype)
    layer_sizes = (X.shape[1], *(coef.shape[1] for coef in coefs))
    layers = _Layers([np.vstack([c, b]) for c, b in zip(coefs, intercepts)])
    out = np.empty((n_samples, layer_sizes[-1]), dtype=dtype)
    workspaces = {}

    def work(slot, start, stop):
        if slot not in workspaces:
            rows = min(CHUNK_SIZE, n_samples)
            workspaces[slot] = _Workspace(layer_sizes, rows, dtype, X, False)
        chunk = workspaces[slot].chunk(X[start:stop], with_gradient=False)
        _forward(chunk, layers, chunk.logits)
        log_softmax_inplace(chunk.logits, chunk.proba, chunk.row)
        np.copyto(out[start:stop], chunk.logits.T)

    with SingleThreadedBlas() as blas_threads:
        _for_each_chunk(
            n_samples,
            CHUNK_SIZE,
            n_threads or blas_threads,
            _work_per_row(layer_sizes),
            work,
        )
    return out


class Objective:
    """Training objective of a set of rows as a function of ``theta``.

    Parameters
    ----------
    network : ParameterLayout
        The layout of ``theta``.
    X : {ndarray, sparse CSR matrix} of shape (n_samples, n_features)
        Input rows. They must not change while the objective is in use:
        the rows of an objective of one chunk are copied into its work
        buffers once, at the first evaluation.
    y : ndarray of int of shape (n_samples,)
        Class indices in ``range(n_outputs)``.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights with a positive sum.
    alpha : float
        Strength of the L2 penalty on the weights (not the intercepts).
    n_threads : int, default=None
        The most threads an evaluation may use; None: the BLAS thread limit
        in force at each evaluation (see :class:`SingleThreadedBlas`).

    Notes
    -----
    The rows are cut into chunks of ``CHUNK_SIZE`` rows (its value when the
    objective is made), evaluated on the threads of :func:`_for_each_chunk`
    with single-threaded BLAS.
    An objective keeps the work buffers of two chunks per thread between
    calls, so one objective must not be evaluated by two threads at once.
    """

    def __init__(self, network, X, y, sample_weight, alpha, n_threads=None):
        self.network = network
        self.alpha = alpha
        self.n_threads = n_threads
        self.n_evaluations = 0
        self._chunk_size = CHUNK_SIZE
        # 1 on the weights and 0 on the intercepts: the gradient of the
        # penalty is alpha / sum(w) times this times theta.
        self._penalized = np.zeros(network.n_params)
        for coef in network.unpack(self._penalized)[0]:
            coef[...] = 1.0
        self._penalty_scale = None
        self._work_per_row = _work_per_row(network.layer_sizes)
        self._workspaces = {}
        self._theta = self._layers = None
        self.set_rows(X, y, sample_weight)

    def set_rows(self, X, y, sample_weight):
        """Make this the objective of other rows, keeping the work buffers.

        What a mini-batch epoch does for every batch: the network, ``alpha``
        and the buffers (made again only if the new rows need more room)
        stay; the parameters are those of :class:`Objective`.
        """
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.weight_sum = float(sample_weight.sum())
        # Where each row's own class sits in its chunk's flattened
        # (n_outputs, rows) block of log-probabilities.
        n_samples = X.shape[0]
        rows = np.arange(n_samples)
        if n_samples <= self._chunk_size:
            self._target_index = y * n_samples + rows
        else:
            chunk_start = rows - rows % self._chunk_size
            chunk_rows = np.minimum(self._chunk_size, n_samples - chunk_start)
            self._target_index = y * chunk_rows + rows - chunk_start
        self._gradient_weight = sample_weight / self.weight_sum

    def value(self, theta):
        """The objective at ``theta``."""
        return self._evaluate(theta, with_gradient=False)[0]

    def value_and_gradient(self, theta):
        """The objective at ``theta`` and its gradient, a new flat vector."""
        return self._evaluate(theta, with_gradient=True)

    def _evaluate(self, theta, with_gradient):
        self.n_evaluations += 1
        # Views of theta stay valid as its values change: a solver that
        # evaluates one array again and again (steepest descent) saves
        # making them.
        if theta is not self._theta:
            self._layers = _Layers(self.network.blocks(theta))
            self._theta = theta
        layers = self._layers
        X = self.X
        n_samples = X.shape[0]
        dtype = np.result_type(X.dtype, theta.dtype)
        # alpha / sum(w) on the weights and 0 on the intercepts, in one pass
        # over theta; made again only when the weight sum changes (mini-
        # batches of equal weight share it).
        if self._penalty_scale is None or self._penalty_key != (
            dtype,
            self.weight_sum,
        ):
            self._penalty_scale = (
                self._penalized * (self.alpha / self.weight_sum)
            ).astype(dtype)
            self._penalty_key = (dtype, self.weight_sum)
        with SingleThreadedBlas() as blas_threads:
            # The penalty's gradient is a new vector: the chunks' gradients
            # are added into it, in chunk order.
            gradient = theta * self._penalty_scale
            penalty = 0.5 * float(np.dot(gradient, theta))
            if n_samples <= self._chunk_size:
                # One chunk, on this thread (what _for_each_chunk would do,
                # without its machinery: this is the case of tiny problems
                # and mini-batches, where every microsecond shows).
                cross_entropy = self._chunk(
                    0, 0, n_samples, layers, dtype, with_gradient
                )
                if with_gradient:
                    gradient += self._workspaces[0].gradient
            else:
                cross_entropy = self._chunks(
                    n_samples, layers, dtype, gradient, with_gradient, blas_threads
                )
        loss = cross_entropy / self.weight_sum + penalty
        return loss, gradient if with_gradient else None

    def _chunks(self, n_samples, layers, dtype, gradient, with_gradient, threads):
        """The cross-entropy of all the chunks (unnormalised), their gradients
        added into ``gradient`` in chunk order if ``with_gradient``."""
        chunk_losses = {}
        cross_entropy = 0.0
        total = gradient if with_gradient else None

        def work(slot, start, stop):
            chunk_losses[slot] = self._chunk(
                slot, start, stop, layers, dtype, with_gradient
            )

        def commit(slot):
            nonlocal cross_entropy
            cross_entropy += chunk_losses[slot]
            if with_gradient:
                np.add(total, self._workspaces[slot].gradient, out=total)

        _for_each_chunk(
            n_samples,
            self._chunk_size,
            self.n_threads or threads,
            self._work_per_row,
            work,
            commit,
        )
        return cross_entropy

    def _chunk(self, slot, start, stop, layers, dtype, with_gradient):
        """The cross-entropy of rows ``start:stop`` (unnormalised), computed
        in the buffers of ``slot``, and with ``with_gradient`` their gradient
        in the workspace's."""
        workspace = self._workspace(slot, dtype, with_gradient)
        X = self.X
        # The whole of X when it is one chunk: the workspace then sees the
        # same rows again and does not copy them.
        one_chunk = stop - start == X.shape[0]
        rows = X if one_chunk else X[start:stop]
        chunk = workspace.chunk(rows, with_gradient)
        _forward(chunk, layers, chunk.logits)
        log_proba = log_softmax_inplace(chunk.logits, chunk.proba, chunk.row)
        if one_chunk:
            targets, weight = self._target_index, self.sample_weight
            gradient_weight = self._gradient_weight
        else:
            targets = self._target_index[start:stop]
            weight = self.sample_weight[start:stop]
            gradient_weight = self._gradient_weight[start:stop]
        cross_entropy = -float(np.dot(weight, log_proba.reshape(-1)[targets]))
        if with_gradient:
            # dCE/dz of the output layer: softmax(z) - onehot(y), weighted.
            delta = chunk.proba
            delta.reshape(-1)[targets] -= 1
            delta *= gradient_weight
            _backward(chunk, layers, delta, workspace)
        return cross_entropy

    def _workspace(self, slot, dtype, with_gradient):
        """The buffers of ``slot`` (see ``_for_each_chunk``), made on first
        use."""
        workspace = self._workspaces.get(slot)
        rows = min(self._chunk_size, self.X.shape[0])
        if (
            workspace is None
            or workspace.dtype != dtype
            or (with_gradient and workspace.gradient is None)
            or workspace.rows < rows
            or workspace.sparse != sp.issparse(self.X)
        ):
            workspace = _Workspace(
                self.network.layer_sizes, rows, dtype, self.X, with_gradient
            )
            self._workspaces[slot] = workspace
        return workspace


class _Layers:
    """The parameters of every layer: its coefficients stacked over its
    intercepts (see ``ParameterLayout.blocks``), and views of both parts."""

    def __init__(self, blocks):
        self.blocks = blocks
        self.coefs = [block[:-1] for block in blocks]
        self.intercepts = [block[-1] for block in blocks]


class _Workspace:
    """Preallocated buffers of one slot (see ``_for_each_chunk``), for chunks
    of up to ``rows`` rows.

    A chunk is computed transposed, one row per unit and one column per
    input row: every elementwise pass then runs over contiguous rows of
    the chunk's length, however narrow the layer. Each layer's input
    carries a row of ones below it, so that the layer's matrix product
    adds its intercepts and the transposed product sums dL/dz into their
    gradient, which saves two passes over each layer (see
    ``ParameterLayout.blocks``). For dense input that takes a transposed copy of
    the chunk's rows, made only once when an objective is one chunk;
    sparse input is used as it is, with the first layer's intercepts added
    apart.

    Per hidden layer: the activations with their row of ones (where
    back-propagation writes dL/dz) and, for the gradient, the derivatives
    of softplus; one scratch array shared by the layers; the logits, the
    softmax and a vector of the output layer; for the gradient, a flat
    vector laid out as ``theta``. The views of a chunk of ``n`` rows take
    the first ``(units + 1) * n`` numbers of each buffer, so that they are
    contiguous for every ``n``.
    """

    def __init__(self, layer_sizes, rows, dtype, X, with_gradient):
        rows = max(rows, 1)
        n_features, *hidden, n_outputs = layer_sizes
        self.rows = rows
        self.sparse = sp.issparse(X)
        self.dtype = np.dtype(dtype)
        self._hidden_sizes = hidden
        self._inputs = None
        self._source = None
        if not sp.issparse(X):
            self._inputs = np.empty((n_features + 1) * rows, dtype)
        self._hidden = [np.empty((width + 1) * rows, dtype) for width in hidden]
        self._derivatives = [
            np.empty(width * rows, dtype) if with_gradient else None for width in hidden
        ]
        self._scratch = np.empty(rows * max(hidden, default=0), dtype)
        self._logits = np.empty(n_outputs * rows, dtype)
        self._proba = np.empty_like(self._logits)
        self._row = np.empty(rows, dtype)
        self._ones = np.ones(rows, dtype)
        self._chunks = {}
        self._n_rows = None
        self.gradient = None
        if with_gradient:
            network = ParameterLayout(layer_sizes)
            self.gradient = np.empty(network.n_params, dtype)
            self.grad_blocks = network.blocks(self.gradient)
            self.grad_coefs, self.grad_intercepts = network.unpack(self.gradient)

    def chunk(self, X, with_gradient):
        """The buffers' views for the rows ``X`` of one chunk, with the input
        copied in (for dense ``X``, unless they hold it already: ``X`` is
        the very array of the last call)."""
        n_rows = X.shape[0]
        key = (n_rows, with_gradient)
        chunk = self._chunks.get(key)
        if chunk is None:
            chunk = self._chunks[key] = self._views(n_rows, with_gradient)
        if n_rows != self._n_rows:
            # The views of another length overlap the rows of ones.
            for layer_input in chunk.hidden:
                layer_input[-1] = 1
            if chunk.inputs is not None:
                chunk.inputs[-1] = 1
            self._n_rows = n_rows
            self._source = None
        if self._inputs is None:
            chunk.inputs = X
        elif X is not self._source:
            np.copyto(chunk.inputs[:-1], X.T)
            # Kept alive, so that no other array can take its identity.
            self._source = X
        return chunk

    def _views(self, n_rows, with_gradient):
        def view(buffer, height):
            return buffer[: height * n_rows].reshape(height, n_rows)

        hidden = self._hidden_sizes
        return _Chunk(
            inputs=None
            if self._inputs is None
            else view(self._inputs, self._inputs.size // self._row.size),
            hidden=[view(h, width + 1) for h, width in zip(self._hidden, hidden)],
            derivatives=[
                view(d, width) if with_gradient else None
                for d, width in zip(self._derivatives, hidden)
            ],
            scratch=[view(self._scratch, width) for width in hidden],
            logits=view(self._logits, self._logits.size // self._row.size),
            proba=view(self._proba, self._proba.size // self._row.size),
            row=self._row[:n_rows],
            ones=self._ones[:n_rows],
        )


class _Chunk:
    """Named views of a workspace's buffers for chunks of one size, each of
    shape ``(units, n_rows)``.

    ``hidden[l]`` is the input of layer ``l + 1``: the activations of
    hidden layer ``l`` over a row of ones; ``activations[l]`` is its view
    without the ones. ``inputs`` is the input of the first layer: the rows
    transposed over a row of ones when dense (``augmented``), the sparse
    rows as they are otherwise.
    """

    def __init__(self, inputs, hidden, derivatives, scratch, logits, proba, row, ones):
        self.inputs = inputs
        self.augmented = inputs is not None
        self.hidden = hidden
        self.activations = [h[:-1] for h in hidden]
        self.derivatives = derivatives
        self.scratch = scratch
        self.logits = logits
        self.proba = proba
        self.row = row
        self.ones = ones


def _forward(chunk, layers, logits):
    """Forward pass of one chunk: the hidden activations (and derivatives,
    where the chunk has room for them) in place, and the logits in
    ``logits``, all transposed (see ``_Workspace``)."""
    last = len(layers.blocks) - 1
    inputs = chunk.inputs
    for layer in range(last + 1):
        z = logits if layer == last else chunk.activations[layer]
        if layer == 0 and not chunk.augmented:
            _product(inputs, layers.coefs[0], z.T)
            z += layers.intercepts[0][:, np.newaxis]
        else:
            np.matmul(layers.blocks[layer].T, inputs, out=z)
        if layer != last:
            softplus_inplace(z, chunk.scratch[layer], chunk.derivatives[layer])
            inputs = chunk.hidden[layer]


def _backward(chunk, layers, delta, workspace):
    """Back-propagate ``delta = dL/dz`` of the output layer of one chunk
    (transposed, as ``chunk.logits``) into the workspace's gradient (after
    ``_forward``)."""
    for layer in range(len(layers.blocks) - 1, -1, -1):
        if layer == 0 and not chunk.augmented:
            _product(chunk.inputs.T, delta.T, workspace.grad_coefs[0])
            # A matrix-vector product sums the rows several times faster
            # than np.sum(axis=1).
            np.matmul(delta, chunk.ones, out=workspace.grad_intercepts[0])
        else:
            inputs = chunk.inputs if layer == 0 else chunk.hidden[layer - 1]
            np.matmul(inputs, delta.T, out=workspace.grad_blocks[layer])
        if layer > 0:
            # This layer's input, the activations below, served its last
            # purpose in this layer's gradient just above: its buffer takes
            # dL/dz of the layer below (its row of ones is left alone).
            back = chunk.activations[layer - 1]
            np.matmul(layers.coefs[layer], delta, out=back)
            delta = np.multiply(back, chunk.derivatives[layer - 1], out=back)


def _work_per_row(layer_sizes):
    """Multiply-adds per row of a forward pass."""
    return sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))


def _product(a, b, out):
    """``out[...] = a @ b`` for dense or sparse ``a``."""
    if sp.issparse(a):
        out[...] = a @ b
    else:
        np.matmul(a, b, out=out)
