"""The training objective as a function of the flat parameter vector.

For rows ``x_i`` with targets ``y_i`` and sample weights ``w_i``::

    L(theta) = sum_i w_i l(f(x_i), y_i) / sum_i w_i + P(theta) / sum_i w_i

where ``f`` is the network, ``l`` the datafit (:mod:`skmlp._math.datafits`; the
softmax cross-entropy by default) and ``P`` the penalty
(:mod:`skmlp._math.penalties`; ``alpha / 2 * sum_l ||W_l||^2``). This is
scikit-learn's ``MLPClassifier`` objective, derived in the user guide, and
:func:`skmlp._math.network.objective` as a plain function.

It is composed once, in :class:`MeanObjective`: a source of rows gives the
datafit's sum ``sum_i w_i l_i`` (and adds the gradient of its weighted
mean), the composition divides it by ``sum_i w_i`` and adds the penalty,
both injected. The sources are the rows in memory
(:class:`~skmlp._evaluation.blocks.BlockRows`: blocks and parts, evaluated by
:mod:`skmlp._evaluation.blocks`), for :class:`Objective`, and blocks of rows on a
Dask cluster, for :class:`skmlp._dask.cluster.ClusterObjective`.
"""

from .._math.bounds import loss_bound_in_box
from .._math.datafits import SoftmaxCrossEntropy
from .._math.penalties import L2
from .blocks import BlockRows
from .execution import SingleThreadedBlas, ThreadedExecutor
from .fingerprint import digest


class MeanObjective:
    """The datafit's weighted mean over a source of rows plus the penalty
    divided by the rows' weight: ``L(theta)`` of the module's docstring.

    Parameters
    ----------
    rows : source of rows
        Declares ``weight_sum`` (``sum_i w_i``, positive),
        ``datafit_sum(theta, gradient=None)`` (``sum_i w_i l_i``; with
        ``gradient``, adds the gradient of ``sum_i (w_i / sum w) l_i`` into
        it) and ``feature_range()`` (the smallest and the largest value of
        each feature over the rows).
    layout : ParameterLayout
        The layout of ``theta``.
    datafit : datafit
        The datafit that the rows' sums are of (the training loop asks it
        for the chance level of the loss).
    penalty : penalty
        Its ``value_and_gradient(theta, scale)`` (:mod:`skmlp._math.penalties`).
    """

    def __init__(self, rows, layout, datafit, penalty):
        self.rows = rows
        self.layout = layout
        self.datafit = datafit
        self.penalty = penalty

    @property
    def weight_sum(self):
        """The total weight of the rows, ``sum_i w_i``."""
        return self.rows.weight_sum

    def value(self, theta):
        """The objective at ``theta``."""
        return self._evaluate(theta, with_gradient=False)[0]

    def value_and_gradient(self, theta):
        """The objective at ``theta`` and its gradient, a new flat vector."""
        return self._evaluate(theta, with_gradient=True)

    def datafit_value(self, theta):
        """The datafit's weighted mean at ``theta``, without the penalty.

        Computed on its own, not as :meth:`value` minus the penalty: a
        datafit of 1e-24 is below the rounding of a penalty of 5e-7, and
        the difference was 0 or that rounding (the training loop's
        chance-level test, which asks for it, then said nothing).
        """
        with SingleThreadedBlas():
            return self.rows.datafit_sum(theta) / self.rows.weight_sum

    def loss_bound(self, theta):
        """An upper bound on :meth:`value` at ``theta``, without a pass over
        the rows once the range of their features is known.

        Every row lies in the box of the features' ranges, so its loss is at
        most :func:`~skmlp._math.bounds.loss_bound_in_box`, and so is the rows'
        weighted mean; the penalty is added exactly. The bound is loose
        (tens to thousands of times the loss), but far enough below the
        divergence rule's threshold for the training loop to skip the
        forward pass that would check the point that ends a call
        (docs/performance.md, "The check of the last point"). NaN or inf if
        ``theta`` is not finite.
        """
        box = self.rows.feature_range()
        data = loss_bound_in_box(self.layout, theta, self.datafit, box)
        penalty, _ = self.penalty.value_and_gradient(theta, 1 / self.weight_sum)
        return data + penalty

    def _evaluate(self, theta, with_gradient):
        rows = self.rows
        weight_sum = rows.weight_sum
        with SingleThreadedBlas():
            penalty, gradient = self.penalty.value_and_gradient(theta, 1 / weight_sum)
            total = rows.datafit_sum(theta, gradient if with_gradient else None)
        return total / weight_sum + penalty, gradient if with_gradient else None


class Objective(MeanObjective):
    """The training objective of a set of rows in memory, as a function of
    ``theta``.

    Parameters
    ----------
    layout : ParameterLayout
        The layout of ``theta``.
    X : {ndarray, sparse CSR matrix} of shape (n_samples, n_features)
        Input rows, of the floating dtype in which the objective computes.
    y : ndarray of shape (n_samples,)
        The targets, as the datafit takes them (class indices in
        ``range(n_outputs)`` for the softmax cross-entropy).
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights with a positive sum.
    alpha : float
        Strength of the L2 penalty on the weights (not the intercepts).
    n_threads : int, default=None
        The most threads of the default executor; None: the BLAS thread
        limit in force at each evaluation.
    datafit : datafit, default=None
        None: :class:`~skmlp._math.datafits.SoftmaxCrossEntropy`.
    executor : executor, default=None
        Runs the parts of an evaluation (see :mod:`skmlp._evaluation.execution`);
        None: a :class:`~skmlp._evaluation.execution.ThreadedExecutor` of
        ``n_threads``, whose threads end with the objective.
    block_size : int, default=None
        Rows per block; None: :func:`~skmlp._evaluation.blocks.rows_per_block` of
        the layout.
    penalty : penalty, default=None
        None: :class:`~skmlp._math.penalties.L2` of ``alpha``.

    Notes
    -----
    The objective keeps its buffers between calls (in its
    :class:`~skmlp._evaluation.blocks.BlockRows`), so one objective must not be
    evaluated by two threads at once.
    """

    def __init__(
        self,
        layout,
        X,
        y,
        sample_weight,
        alpha,
        n_threads=None,
        *,
        datafit=None,
        executor=None,
        block_size=None,
        penalty=None,
    ):
        datafit = SoftmaxCrossEntropy() if datafit is None else datafit
        penalty = L2(layout, alpha) if penalty is None else penalty
        executor = ThreadedExecutor(n_threads) if executor is None else executor
        self._fingerprint = None
        rows = BlockRows(layout, X, y, sample_weight, datafit, executor, block_size)
        super().__init__(rows, layout, datafit, penalty)

    # The rows and how they are evaluated, as the objective's own.
    X = property(lambda self: self.rows.X)
    y = property(lambda self: self.rows.y)
    sample_weight = property(lambda self: self.rows.sample_weight)
    executor = property(lambda self: self.rows.executor)
    block_size = property(lambda self: self.rows.block_size)

    def set_rows(self, X, y, sample_weight):
        """Make this the objective of other rows, keeping the buffers: what
        a mini-batch epoch does for every batch
        (:meth:`~skmlp._evaluation.blocks.BlockRows.set_rows`)."""
        self._fingerprint = None
        self.rows.set_rows(X, y, sample_weight)

    def rows_fingerprint(self):
        """The sampled fingerprint (:meth:`fingerprint`) of the rows, their
        targets and weights alone: equal for two objectives of other
        ``alpha`` on the same rows. None for rows whose numbers cannot be
        read as such."""
        try:
            return digest((), self.X, self.y, self.sample_weight, self.block_size, True)
        except TypeError:
            return None

    def fingerprint(self, sampled=False):
        """A digest of all that the objective's values depend on, but the
        executor: the rows (values, dtype, shape, sparse structure), the
        targets and weights, ``alpha``, the datafit, the layout and the
        blocks; with ``sampled``, of all that but the rows, of which only
        ``FINGERPRINT_SAMPLE`` evenly spaced ones
        (:func:`skmlp._evaluation.fingerprint.digest`).

        Two objectives of equal fingerprints give the same value and
        gradient at every ``theta``, to the bit (the evaluation depends on
        nothing else, see :mod:`skmlp._evaluation.blocks`): so a ``partial_fit``
        call on the rows of the last one can keep its last gradient rather
        than take it again (``AdaptiveStep.remeasure``). Different sampled
        fingerprints prove the objectives different; equal ones prove
        nothing. A cryptographic hash (SHA-256), made once per set of rows
        and kind; the full one reads every number once (its cost is in
        docs/performance.md, "The fingerprint of a partial_fit call's
        rows"), the sampled one next to nothing. None for rows whose numbers
        cannot be read as such (an array of objects).
        """
        if self._fingerprint is None:
            self._fingerprint = {}
        if sampled not in self._fingerprint:
            header = (
                type(self.datafit).__name__,
                repr(float(self.penalty.alpha)),
                self.layout.layer_sizes,
                self.block_size,
            )
            rows = (self.X, self.y, self.sample_weight)
            try:
                self._fingerprint[sampled] = digest(
                    header, *rows, self.block_size, sampled
                )
            except TypeError:
                return None
        return self._fingerprint[sampled]
