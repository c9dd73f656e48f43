"""Training on a Dask cluster: full-batch steps computed where the rows are.

A full-batch objective is a sum over rows::

    L(theta) = sum_b sum_{i in b} w_i l_i / sum_i w_i + penalty(theta)

(``l_i`` the datafit's loss of row ``i``: a classifier's cross-entropy, a
regressor's squared error or Poisson deviance)

so an evaluation splits into the same work on every block ``b`` of rows plus
one addition. ``fit`` on a Dask array or DataFrame, with a
``dask.distributed`` client running, persists each block once on the
worker that computes it, as the (unpenalised) objective of its rows. The
estimator's training loop and solvers then run on the client, unchanged,
over a :class:`ClusterObjective`: each evaluation sends ``theta`` to the
workers once, gets back one loss sum and gradient sum per block,
and adds them up in block order (not in the order the workers finish), so
that the result does not depend on the cluster, before dividing by the total
weight and adding the penalty. The client holds the parameters and one
partial result per block, never the rows.

A worker lost during a fit takes its blocks with it; the scheduler computes
them again from their source (the task graph of the Dask array), and the fit
goes on with the same numbers. If the cluster cannot recover, because the
rows had no source to compute them from again (they were scattered to that
worker, say) or a task's workers kept dying, the fit raises a
:class:`ClusterError` as soon as Dask reports the loss, and the estimator is
left as it was.

Dask is imported only here and in :mod:`skmlp._dask.input` (Dask input:
validation, predictions, score), and only once the input is a Dask
collection.
"""

import contextlib
import math
import sys
from collections import namedtuple
from concurrent.futures import CancelledError

import numpy as np
from scipy.special import xlogy
from sklearn.base import is_classifier
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_non_negative

from .. import _validation
from .._evaluation.blocks import forward_log_proba
from .._evaluation.objective import MeanObjective, Objective
from .._math.bounds import feature_range
from .._math.datafits import DATAFITS, rows_weighed
from .._math.layout import ParameterLayout
from .._math.penalties import L2
from .._training.loop import TrainingData, TrainingRun
from .input import dask_column, dask_targets, is_dask_collection, validated


def on_cluster(X):
    """Whether ``fit`` on ``X`` trains on a Dask cluster: ``X`` is a Dask
    collection and a ``dask.distributed`` client is running. Without a
    client there are no workers to keep the rows, and ``X`` is computed into
    memory like any other array-like."""
    return is_dask_collection(X) and _client() is not None


def _client():
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.default_client()
    except ValueError:
        return None


class ClusterError(RuntimeError):
    """The cluster lost the rows or the workers of a fit for good."""


# ---------------------------------------------------------------------------
# The one call into the objective of the core.


def _block_sums(rows, theta, with_gradient):
    """``sum_i w_i l_i`` over the rows of one block, and its gradient.

    The block's :class:`~skmlp._evaluation.objective.Objective` with ``alpha=0`` gives
    the weighted mean; times the block's weight it is the sum. (An objective
    that returned the sum of a block itself would save the two products;
    they change the result at the rounding level.)
    """
    objective = rows.objective()
    if not with_gradient:
        return objective.value(theta) * rows.weight_sum, None
    mean, gradient = objective.value_and_gradient(theta)
    gradient *= rows.weight_sum
    return mean * rows.weight_sum, gradient


class _TrainingRows:
    """The training rows of one block, on a worker, and their objective.

    The objective is made on first use by the worker that holds the rows,
    and not pickled (its work buffers would travel for nothing): a worker
    that receives a copy of the rows makes its own.
    """

    def __init__(self, X, y, sample_weight, layer_sizes, out_activation):
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.layer_sizes = layer_sizes
        self.out_activation = out_activation
        self.weight_sum = float(sample_weight.sum())
        self._objective = None

    def objective(self):
        if self._objective is None:
            self._objective = Objective(
                ParameterLayout(self.layer_sizes),
                self.X,
                self.y,
                self.sample_weight,
                alpha=0.0,
                n_threads=1,
                datafit=DATAFITS[self.out_activation](),
            )
        return self._objective

    def __getstate__(self):
        return {**self.__dict__, "_objective": None}

    def __sizeof__(self):
        # The size Dask's scheduler weighs the block by (dask.sizeof falls
        # back to sys.getsizeof, which calls this): the rows'. Without it, a
        # block weighs less than theta, and the scheduler moves the rows to
        # the worker that holds theta rather than theta to the rows: each
        # step would copy blocks between workers.
        from dask.sizeof import sizeof

        rows = sizeof((self.X, self.y, self.sample_weight))
        return super().__sizeof__() + rows


# ---------------------------------------------------------------------------
# On the workers.


def _make_block(X, y, sample_weight, classes, layer_sizes, dtype, holdout, kind):
    """The training rows of one block, its held-out rows, and their sizes
    and weights. ``kind`` is the output layer's (``out_activation_``);
    ``classes`` those of a classifier, None for a regressor.

    Returns ``(rows, held_out, summary)``: ``rows`` are ``_TrainingRows``;
    ``held_out`` is ``(X, y, sample_weight)`` of the rows held out for early
    stopping (``holdout`` is then ``(fraction, seed)``), or None; ``summary``
    is ``(n_train, train_weight, n_held_out, held_out_weight, n_held_weighed,
    ranges, targets_sum)`` (``n_held_weighed``: the held-out rows of
    positive weight), with ``ranges`` the smallest and largest value of each
    feature over the training rows (None without any), for the bound on the
    loss (:meth:`ClusterObjective.loss_bound`), and ``targets_sum`` a
    regressor's number of training rows of positive weight and the weighted
    sums over them of each output, of its square and of ``y log y`` (what
    :func:`_start_from_sums` takes; None for a classifier).
    """
    # scikit-learn's checks and messages, block by block (NaN, dtype, ...).
    X = check_array(
        X, accept_sparse="csr", dtype=dtype, ensure_min_samples=0, input_name="X"
    )
    # Not _check_sample_weight, which refuses a block that weighs nothing.
    if sample_weight is None:
        sample_weight = np.ones(X.shape[0], X.dtype)
    sample_weight = check_array(
        sample_weight,
        ensure_2d=False,
        dtype=X.dtype,
        ensure_min_samples=0,
        input_name="sample_weight",
    )
    # Not on an empty block (of a mask that keeps none of its rows, say):
    # check_non_negative takes the minimum, which an empty array has not.
    if sample_weight.shape[0]:
        check_non_negative(sample_weight, "`sample_weight`")
    if classes is None:
        # A regressor's targets, one column per output, checked as
        # validate_data checks them in memory (finite numbers). The rows are
        # held out at random, in one stratum.
        y = check_array(
            y, ensure_2d=False, dtype=np.float64, ensure_min_samples=0, input_name="y"
        )
        targets = y.reshape(X.shape[0], layer_sizes[-1])
        strata = np.zeros(X.shape[0], dtype=np.intp)
    else:
        targets = strata = np.searchsorted(classes, y)
    held_out = None
    if holdout is not None:
        fraction, seed = holdout
        held = _held_out_rows(strata, fraction, np.random.RandomState(seed))
        held_out = (X[held], targets[held], sample_weight[held])
        X, targets, sample_weight = X[~held], targets[~held], sample_weight[~held]
    rows = _TrainingRows(X, targets, sample_weight, layer_sizes, kind)
    ranges = feature_range(X) if X.shape[0] else None
    # A regressor's start is the training rows' weighted mean (with early
    # stopping, not the held-out rows'): their weighted sum of targets and
    # how many weigh something, from which intercept_only follows.
    targets_sum = None
    if classes is None:
        weighed = sample_weight[:, None].astype(np.float64)
        targets_sum = (
            np.count_nonzero(sample_weight),
            np.sum(weighed * targets, axis=0),
            np.sum(weighed * targets**2, axis=0),
            np.sum(weighed * xlogy(targets, targets), axis=0),
        )
    summary = (X.shape[0], rows.weight_sum, 0, 0.0, 0, ranges, targets_sum)
    if held_out is not None:
        summary = (
            *summary[:2],
            held_out[0].shape[0],
            float(held_out[2].sum()),
            np.count_nonzero(held_out[2]),
            ranges,
            targets_sum,
        )
    return rows, held_out, summary


def _held_out_rows(codes, fraction, random_state):
    """A random mask of ``fraction`` of the rows of each class of a block.

    Rounded up or down at random, so that over many small blocks every class
    gives ``fraction`` of its rows on average.
    """
    held = np.zeros(codes.shape[0], dtype=bool)
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        n_held = math.floor(fraction * rows.shape[0] + random_state.uniform())
        held[random_state.choice(rows, n_held, replace=False)] = True
    return held


def _block_held_out(held_out, theta, layer_sizes, kind):
    """What the score of the held-out rows of a block needs, and their
    weighted loss: one forward pass for both, as for rows in memory
    (``_training.loop.held_out_evaluation``). The score's part is the
    weight of the rows that ``theta`` classifies right, or for a regressor
    its :func:`r2_parts`."""
    X, targets, sample_weight = held_out
    datafit = DATAFITS[kind]()
    coefs, intercepts = ParameterLayout(layer_sizes).unpack(theta)
    outputs = forward_log_proba(coefs, intercepts, X, 1, datafit=datafit)
    loss = datafit.held_out_loss(outputs, targets, sample_weight)
    if kind == "softmax":
        predicted = np.argmax(outputs, axis=1)
        return float(np.dot(sample_weight, predicted == targets)), loss
    return r2_parts(outputs, targets, sample_weight), loss


def r2_parts(predicted, y, sample_weight):
    """What the weighted R² of a block of rows adds to that of all the
    rows, output by output: the residual sum of squares, the rows' weight,
    their weighted mean and their sum of squares about it (the parts of
    Chan, Golub and LeVeque's pairwise variance, which :func:`r2` adds up
    without the cancellation of sums of squares about 0)."""
    weight = sample_weight[:, None]
    total = float(sample_weight.sum())
    residual = np.sum(weight * (y - predicted) ** 2, axis=0)
    if total != 0:  # negative weights too, as r2_score takes them
        mean = np.sum(weight * y, axis=0) / total
    else:
        mean = np.zeros(y.shape[1])
    spread = np.sum(weight * (y - mean) ** 2, axis=0)
    return residual, total, mean, spread


def r2(parts):
    """The weighted R² of all the rows from their blocks' :func:`r2_parts`,
    averaged over outputs, as ``r2_score`` gives it (an output of constant
    targets scores 1 if it is predicted exactly, else 0)."""
    residual = sum(part[0] for part in parts)
    total = sum(part[1] for part in parts)
    mean = sum(part[1] * part[2] for part in parts) / total
    spread = sum(part[3] + part[1] * (part[2] - mean) ** 2 for part in parts)
    with np.errstate(divide="ignore", invalid="ignore"):
        # A spread of either sign, as r2_score's (negative weights make it
        # negative, and the R² is the same ratio).
        scores = np.where(
            spread != 0, 1.0 - residual / spread, np.where(residual == 0, 1.0, 0.0)
        )
    return float(np.mean(scores))


def _theta(theta):
    return theta


# ---------------------------------------------------------------------------
# On the client.


class _ClusterBlocks:
    """Futures of per-block objects on the workers, in row order."""

    def __init__(self, client, futures):
        self.client = client
        self.futures = futures

    def map(self, function, theta, **kwargs):
        """``[function(block, theta, **kwargs) for block in blocks]``, each
        computed where its block is, ``theta`` sent to each worker once."""
        client = self.client
        # Connections that did not come back count too: every task of a
        # step is ours, so an OSError here is the cluster's, not the data's.
        with _lost_for_good(also=(OSError,)):
            # A task rather than scattered data: the scheduler can compute it
            # again if the worker holding it dies; workers copy it from each
            # other, not from the client. A copy, since the task is sent
            # after submit returns, and solvers write into their vectors.
            on_workers = client.submit(_theta, theta.copy(), pure=False)
            parts = []
            try:
                parts = client.map(
                    function, self.futures, theta=on_workers, pure=False, **kwargs
                )
                return client.gather(parts)
            finally:
                # An error's traceback keeps this frame, and Dask's own
                # frames keep the futures: without this, the step's tasks
                # and theta would stay on the workers as long as it lives
                # (sys.last_traceback, in a notebook).
                _release([on_workers, *parts])

    def release(self):
        """Let the cluster forget the blocks (see :func:`release_run`)."""
        _release(self.futures)


def _release(futures):
    # Future.release, not Client.cancel: it only drops this process's
    # references, as the end of the futures' lives would, and it may be
    # called twice.
    for future in futures:
        future.release()


def release_run(run):
    """Let the cluster forget the blocks of ``run``, a training run that
    :func:`build_run` made, once its call has used them for the last time.

    Called by ``fit`` and ``partial_fit`` however their call ends: the
    traceback of an error (DivergenceError, ClusterError, a Ctrl-C) keeps
    the run, and the futures of its blocks with it, for as long as the
    traceback lives; the blocks would stay in the workers' memory until
    then. A run of rows in memory holds nothing of a cluster.
    """
    for part in (run.data.objective, run.data.held_out):
        blocks = getattr(part, "blocks", None)
        if isinstance(blocks, _ClusterBlocks):
            blocks.release()


@contextlib.contextmanager
def _lost_for_good(also=()):
    """Turn the exceptions of a cluster that lost what a fit needs for good
    into a :class:`ClusterError` that says so.

    A task whose workers kept dying raises ``KilledWorker``; a future whose
    data or dependencies are gone, with no task left to compute them again
    (rows scattered to a worker that died, say), is cancelled: Dask raises a
    ``CancelledError`` ("lost dependencies", "already forgotten"), when the
    rows are lost during a step as when they are lost before the blocks are
    made. ``also`` adds the types that mean a lost cluster only where the
    tasks are ours (an OSError of the user's task graph, reading a file, is
    the user's error).
    """
    from distributed import KilledWorker

    try:
        yield
    except (KilledWorker, CancelledError, *also) as error:
        raise ClusterError(
            "The Dask cluster failed during training "
            f"({type(error).__name__}: {error}): the rows or workers of the fit "
            "were lost and could not be recovered (rows that a worker held "
            "without a task graph to compute them again, as scattered data, "
            "are gone with that worker). The estimator was left as it was "
            "before this call."
        ) from error


class ClusterObjective(MeanObjective):
    """The training objective of rows held by a Dask cluster.

    The objective of :class:`~skmlp._evaluation.objective.Objective` composed the same
    way (:class:`~skmlp._evaluation.objective.MeanObjective`: the datafit's sum over
    the rows, divided by their weight, plus the penalty), over a source of
    rows whose blocks are on the workers (:class:`_ClusterRows`), so that
    every solver and the training loop run over it unchanged. It has no
    ``set_rows``: the rows stay where they are, and the loop takes
    full-batch steps only.

    Parameters
    ----------
    blocks : _ClusterBlocks
        The ``_TrainingRows`` of the blocks with a positive weight.
    weight_sum : float
        The total weight of the rows, ``sum_i w_i``.
    layout : ParameterLayout
        The layout of ``theta``.
    alpha : float
        Strength of the L2 penalty on the weights (not the intercepts).
    feature_range : (ndarray, ndarray)
        The smallest and the largest value of each feature over the rows.
    datafit : object
        The datafit the blocks compute (that of ``out_activation_``).
    """

    def __init__(self, blocks, weight_sum, layout, alpha, feature_range, datafit):
        self.blocks = blocks
        rows = _ClusterRows(blocks, weight_sum, feature_range)
        super().__init__(rows, layout, datafit, L2(layout, alpha))


class _ClusterRows:
    """The source of rows of a :class:`ClusterObjective`: the blocks on the
    workers, each giving its sum and the gradient of its sum, added up in
    block order (not in the order the workers finish), so that the result
    does not depend on the cluster."""

    def __init__(self, blocks, weight_sum, feature_range):
        self.blocks = blocks
        self.weight_sum = weight_sum
        self._feature_range = feature_range

    def feature_range(self):
        """The features' ranges that the blocks reported."""
        return self._feature_range

    def datafit_sum(self, theta, gradient=None):
        """``sum_i w_i l_i``; with ``gradient``, adds the gradient of
        ``sum_i (w_i / sum w) l_i`` into it."""
        with_gradient = gradient is not None
        parts = self.blocks.map(_block_sums, theta, with_gradient=with_gradient)
        cross_entropy = 0.0
        data_gradient = np.zeros_like(theta) if with_gradient else None
        for block_cross_entropy, block_gradient in parts:
            cross_entropy += block_cross_entropy
            if with_gradient:
                data_gradient += block_gradient
        if with_gradient:
            data_gradient /= self.weight_sum
            gradient += data_gradient
        return cross_entropy


class _HeldOut:
    """The score (weighted accuracy, or R²) and mean loss of ``theta`` on
    held-out rows kept by the cluster (the pair of
    ``_training.loop.held_out_evaluation``)."""

    def __init__(self, blocks, weight_sum, layer_sizes, kind):
        self.blocks = blocks
        self.weight_sum = weight_sum
        self.layer_sizes = layer_sizes
        self.kind = kind

    def __call__(self, theta):
        parts = self.blocks.map(
            _block_held_out, theta, layer_sizes=self.layer_sizes, kind=self.kind
        )
        scores, losses = zip(*parts)
        loss = sum(losses) / self.weight_sum
        if self.kind == "softmax":
            return sum(scores) / self.weight_sum, loss
        return r2(scores), loss


def _check_full_batch(batch_size, n_samples):
    if batch_size is not None and batch_size < n_samples:
        raise ValueError(
            f"batch_size={batch_size} is not supported with rows on "
            "a Dask cluster, which is trained by full-batch steps. Set "
            "batch_size=None; or, for mini-batches, call partial_fit block by "
            "block (dask_ml.wrappers.Incremental does), or compute the array "
            "into memory first."
        )


# The validated rows of a call on a Dask cluster: ``X`` a Dask array of
# rows, ``y`` and ``sample_weight`` (or None) Dask arrays cut into its
# blocks; the blocks themselves are checked where they are computed.
# ``kind`` is the output layer's (``out_activation_``); for a regressor,
# ``intercepts`` and ``chance_loss`` are the datafit's ``intercept_only``
# and ``chance_loss`` of the rows (None for a classifier).
DaskRows = namedtuple(
    "DaskRows", "X y sample_weight n_features dtype kind intercepts chance_loss"
)


def validate_rows(model, X, y, sample_weight, incremental, first_call):
    """Validate a call's rows held by a Dask cluster on ``model``, the
    estimator's view (``_validation.view``), as ``_validation.validate_call``
    validates rows in memory, as far as it can be told without computing
    the rows: the columns, the number of rows, the labels (their distinct
    values, computed), the full batch. Returns :data:`DaskRows`.
    """
    import dask
    import dask.array as da

    X, meta = validated(model, X, reset=first_call)
    row_chunks = X.chunks[0]
    if is_classifier(model):
        y = dask_column(y, row_chunks, "y", warn=True)
    else:
        # Strings as in memory, on the targets as given: dask_targets makes
        # an object array of a Series of strings (or of a Categorical's),
        # which was then read as numbers.
        _validation.refuse_string_columns(y, "y")
        y = dask_targets(y, row_chunks, X.shape[0])
    if sample_weight is not None:
        sample_weight = dask_column(
            sample_weight, row_chunks, "sample_weight", dtype=meta.dtype
        )
    _validation.check_some_rows(X.shape[0], X.shape)
    _check_full_batch(model.batch_size, X.shape[0])
    if not is_classifier(model):
        return _regression_rows(model, X, y, sample_weight, meta, first_call)

    # The first computations of the rows: lost rows (scattered to a worker
    # that has died since) show here first.
    with _lost_for_good():
        (labels,) = dask.compute(da.unique(y))
    # The check of y in memory (check_X_y's), on its distinct values: a NaN
    # or an infinity in y is one of them.
    check_array(labels, ensure_2d=False, dtype=None, input_name="y")
    check_classification_targets(labels)
    _validation.encode_labels(model, labels, incremental, first_call)
    return DaskRows(
        X, y, sample_weight, meta.shape[1], meta.dtype, "softmax", None, None
    )


def _start_from_sums(kind, total, weighted_rows, first, second, entropy):
    """A regressor's ``(intercept_only, chance_loss)`` of rows of weight
    sum ``total`` (``weighted_rows`` of them of positive weight) from the
    weighted sums of their targets, of their squares and of ``y log y``
    (``first``, ``second``, ``entropy``, one entry per output); ``kind``
    is the output layer's.

    intercept_only of one row at the mean, standing for the rows it
    weighs, is that of the rows. chance_loss is the loss of predicting
    every row by the mean: for the squared error the variance, averaged
    over outputs and halved, for the Poisson deviance ``sum_k E[y log y] -
    m_k log m_k`` (the datafits' formulas, averaged over the rows).
    """
    datafit = DATAFITS[kind]()
    mean = first / total
    intercepts = datafit.intercept_only(
        mean[None, :], np.ones(1), n_rows=rows_weighed(None, total, weighted_rows)
    )
    if kind == "identity":
        variance = np.maximum(second / total - mean**2, 0.0)
        chance_loss = float(np.sum(variance)) / (2 * len(mean))
    else:
        chance_loss = float(np.sum(entropy / total - xlogy(mean, mean)))
    return intercepts, chance_loss


def _regression_rows(model, X, y, sample_weight, meta, first_call):
    """:func:`validate_rows` of a regressor, whose targets ``y`` are cut
    into the blocks of ``X`` (``input.dask_targets``). One pass over them
    gives, as sums, their range (for the checks of ``validate_call``:
    finite, and non-negative for the Poisson deviance) and what the
    datafit's ``intercept_only`` and ``chance_loss`` take of them: the
    weighted mean of each output, and its weighted variance or mean
    ``y log y``."""
    import dask
    import dask.array as da

    row_chunks = X.chunks[0]
    _validation.refuse_strings(y.dtype, "y")
    targets = y.astype(np.float64).reshape(X.shape[0], -1)
    weight = (
        da.ones(X.shape[0], chunks=(row_chunks,))
        if sample_weight is None
        else sample_weight.astype(np.float64)
    )[:, None]
    with _lost_for_good():
        low, high, lightest, total, weighted_rows, first, second, entropy = (
            dask.compute(
                targets.min(axis=0),
                targets.max(axis=0),
                weight.min(),
                weight.sum(),
                (weight > 0).sum(),
                (weight * targets).sum(axis=0),
                (weight * targets**2).sum(axis=0),
                (weight * da.map_blocks(xlogy, targets, targets)).sum(axis=0),
            )
        )
    # check_X_y's check of y, with its messages, on its extremes: a NaN or
    # an infinity in y is one of them.
    check_array(np.stack([low, high]), dtype=np.float64, input_name="y")
    # The range check of the loss and the outputs' checks of a later call.
    _validation.regression_targets(model, low[None, :], first_call)
    _validation.check_target_range(max(-low.min(), high.max()), "y", meta.dtype)
    # A negative weight first, as _check_sample_weight tells it in memory:
    # weights all negative have a negative sum too, and its message came
    # first.
    check_non_negative(np.atleast_1d(lightest), "`sample_weight`")
    _validation.check_positive_weight(total)
    intercepts, chance_loss = _start_from_sums(
        model.out_activation_, total, weighted_rows, first, second, entropy
    )
    return DaskRows(
        X,
        y,
        sample_weight,
        meta.shape[1],
        meta.dtype,
        model.out_activation_,
        intercepts,
        chance_loss,
    )


def build_run(settings, start, rows, classes, callbacks, first_call=True):
    """The training run of ``fit`` (or ``partial_fit``, one full-batch step)
    on rows held by a Dask cluster: the estimator's own training loop over a
    :class:`ClusterObjective`, from the same settings and start as rows in
    memory (``_training.Settings``, ``_training.Start``).

    ``rows`` are the validated :data:`DaskRows`, of labels ``classes``
    (``classes_``; None for a regressor). ``first_call``: whether the call
    starts afresh (a regressor's output intercepts then start from the
    training rows' mean). The blocks live on the cluster as long as the run
    holds them.
    """
    import dask

    client = _client()
    X, y, sample_weight = rows.X, rows.y, rows.sample_weight
    layer_sizes = start.layout.layer_sizes
    n_blocks = len(X.chunks[0])
    if settings.early_stopping:
        # From the fit's generator, after the initial weights, as the split
        # of rows in memory (the estimator says why, where it makes that).
        seeds = start.rng.randint(np.iinfo(np.int32).max, size=n_blocks)
        holdouts = [(settings.validation_fraction, seed) for seed in seeds]
    else:
        holdouts = [None] * n_blocks
    weights = (
        [None] * n_blocks
        if sample_weight is None
        else sample_weight.to_delayed().ravel()
    )
    make_block = dask.delayed(_make_block, nout=3, pure=True)
    parts = [
        make_block(
            X_block,
            y_block,
            weight,
            classes,
            layer_sizes,
            rows.dtype,
            holdout,
            rows.kind,
        )
        for X_block, y_block, weight, holdout in zip(
            X.to_delayed().ravel(), y.to_delayed().ravel(), weights, holdouts
        )
    ]
    # Computed and kept where they are computed: the rows never come here.
    # The run's objective and scorer hold the futures of the blocks they
    # need; the call releases them as it ends (release_run), however it ends.
    futures = client.compute([part for block in parts for part in block])
    try:
        return _run_of_blocks(
            settings, client, futures, start, callbacks, rows, first_call
        )
    except BaseException:
        # The blocks of a call that fails before its run starts go with it,
        # and not with the traceback that keeps this frame.
        _release(futures)
        raise


def _run_of_blocks(settings, client, futures, start, callbacks, rows, first_call):
    """The second part of :func:`build_run`: the run over the blocks, once
    the cluster is computing them (``futures``: the ``_make_block`` results
    of each block in turn, of the validated ``rows``)."""
    layer_sizes = start.layout.layer_sizes
    training, held_out, summaries = (futures[i::3] for i in range(3))
    with _lost_for_good():
        summaries = client.gather(summaries)
    (
        n_train,
        train_weights,
        n_held_out,
        held_out_weights,
        n_held_weighed,
        ranges,
        sums,
    ) = zip(*summaries)
    if settings.early_stopping:
        _validation.check_validation_size(sum(n_held_out))
        _validation.check_split_weight(
            "validation", sum(n_held_weighed), sum(n_held_out)
        )
    weight_sum = sum(train_weights)
    _validation.check_positive_weight(weight_sum)
    chance_loss = rows.chance_loss
    if settings.early_stopping and rows.intercepts is not None:
        # As for rows in memory, the training rows' alone, which
        # validate_rows, before the split, took over all the rows: the
        # start of a call that starts afresh, and the chance level (the
        # divergence rule's floor, and the L-BFGS warning's).
        intercepts, chance_loss = _start_from_sums(
            rows.kind,
            weight_sum,
            *(sum(block[i] for block in sums) for i in range(4)),
        )
        if first_call:
            start.layout.unpack(start.theta)[1][-1][:] = intercepts
    # Some block has training rows, since they weigh something.
    ranges = [block for block in ranges if block is not None]
    features = (
        np.min([low for low, _ in ranges], axis=0),
        np.max([high for _, high in ranges], axis=0),
    )
    # Blocks that weigh nothing add nothing: they are not evaluated.
    objective = ClusterObjective(
        _ClusterBlocks(
            client, [f for f, weight in zip(training, train_weights) if weight > 0]
        ),
        weight_sum,
        start.layout,
        settings.alpha,
        features,
        DATAFITS[rows.kind](),
    )
    evaluation = None
    if settings.early_stopping:
        evaluation = _HeldOut(
            _ClusterBlocks(client, [f for f, n in zip(held_out, n_held_out) if n > 0]),
            sum(held_out_weights),
            layer_sizes,
            rows.kind,
        )
    data = TrainingData(
        objective, sum(n_train), None, evaluation, chance_loss=chance_loss
    )
    return TrainingRun(settings, start, data, callbacks)
