"""Training curves: the loss per iteration and a held-out score per iteration.

``score_curve`` trains by ``partial_fit``, one epoch a call, and scores
held-out data after each epoch; ``LossCurveDisplay`` draws the loss curve of a
fitted estimator and, when there is one, the score curve on a second y axis;
``plot_study`` writes the GD vs NAG figure of ``python -m skmlp``.
"""

import math
from numbers import Integral

import numpy as np
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.metrics import check_scoring
from sklearn.pipeline import Pipeline
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted

from ._sklearn_compat import (
    HasMethods,
    Interval,
    _validate_style_kwargs,
    validate_params,
)

# The label of the twin axes that LossCurveDisplay creates for scores, so that
# a second display drawn on the same axes finds and reuses it.
_SCORE_AXES_LABEL = "_skmlp_score_axes"

# Each solver has one colour in every study figure, whichever solvers it
# shows: a colour picked by order would make NAG blue alone, orange with GD.
SOLVER_COLORS = {"GD": "tab:blue", "NAG": "tab:orange", "LBFGS": "tab:green"}


@validate_params(
    {
        "estimator": [HasMethods(["partial_fit"]), Pipeline],
        "X_train": ["array-like", "sparse matrix"],
        "y_train": ["array-like"],
        "X_test": ["array-like", "sparse matrix"],
        "y_test": ["array-like"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "scoring": [str, callable, None],
    },
    prefer_skip_nested_validation=False,
)
def score_curve(estimator, X_train, y_train, X_test, y_test, *, max_iter, scoring=None):
    """Train one epoch at a time and score held-out data after each epoch.

    A clone of ``estimator`` is trained from scratch by ``max_iter`` calls to
    ``partial_fit`` on the whole training set, and scored on ``X_test``,
    ``y_test`` after every call. For :class:`SoftplusMLPClassifier` (and
    :class:`SoftplusMLPRegressor`) a ``partial_fit`` call is one epoch and
    the solver's state carries over between calls, so the trained clone is
    the model that ``fit`` with ``max_iter=max_iter`` gives (when ``fit``
    does not stop early on ``tol``).

    Parameters
    ----------
    estimator : estimator instance
        An unfitted classifier or regressor with ``partial_fit``, or a
        :class:`~sklearn.pipeline.Pipeline` whose last step is one. The
        transformers of a pipeline are fitted once on ``X_train``; only the
        last step is trained epoch by epoch. ``estimator`` itself is not
        modified.

    X_train : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data.

    y_train : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Training labels, whose unique values are a classifier's ``classes``
        of the first ``partial_fit`` call, or a regressor's targets.

    X_test : {array-like, sparse matrix} of shape (n_test_samples, n_features)
        Held-out data.

    y_test : array-like of shape (n_test_samples,) or (n_test_samples, n_outputs)
        Held-out labels.

    max_iter : int
        Number of epochs (``partial_fit`` calls).

    scoring : str, callable or None, default=None
        The held-out score, as in :func:`~sklearn.model_selection.cross_validate`
        (a scorer name such as ``'neg_log_loss'``, or a callable
        ``scorer(estimator, X, y)``); None uses ``estimator.score``, the
        accuracy for a classifier, the R² for a regressor.

    Returns
    -------
    estimator : estimator instance
        The trained clone of ``estimator``.

    scores : ndarray of shape (max_iter,)
        ``scores[k]`` is the held-out score after epoch ``k + 1``.

    See Also
    --------
    LossCurveDisplay.from_estimator : Plot the returned estimator's loss curve
        with these scores.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmlp import SoftplusMLPClassifier, score_curve
    >>> X, y = load_iris(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(
    ...     X, y, stratify=y, random_state=0)
    >>> model = make_pipeline(
    ...     StandardScaler(),
    ...     SoftplusMLPClassifier(hidden_layer_sizes=(16,), random_state=0))
    >>> model, scores = score_curve(
    ...     model, X_train, y_train, X_test, y_test, max_iter=50)
    >>> scores.shape
    (50,)
    >>> model[-1].n_iter_
    50
    >>> float(scores[-1]) == model.score(X_test, y_test)
    True
    """
    estimator = clone(estimator)
    if isinstance(estimator, Pipeline):
        # A Pipeline has no partial_fit: its transformers are fitted on the
        # whole training set, and transform it, as Pipeline.fit does (by
        # fit_transform: a TargetEncoder cross-fits its training rows, and
        # fit(...).transform(...) trained the last step on other values),
        # and only the last step learns epoch by epoch. Slicing shares the
        # steps, so this fits them inside the clone. A pipeline of the
        # estimator alone has nothing to transform (an empty Pipeline has
        # no fit).
        transformers, learner = estimator[:-1], estimator[-1]
        if not hasattr(learner, "partial_fit"):
            raise ValueError(
                f"The last step of the pipeline, {learner!r}, has no partial_fit."
            )
        if transformers.steps:
            X_epoch = transformers.fit_transform(X_train, y_train)
        else:
            X_epoch = X_train
    else:
        X_epoch = X_train
        learner = estimator
    scorer = check_scoring(estimator, scoring=scoring)
    # A classifier's first partial_fit needs every class; a regressor's
    # learns its outputs from y.
    classes = {"classes": unique_labels(y_train)} if is_classifier(learner) else {}
    scores = np.empty(max_iter)
    for epoch in range(max_iter):
        learner.partial_fit(X_epoch, y_train, **classes)
        scores[epoch] = scorer(estimator, X_test, y_test)
    return estimator, scores


class LossCurveDisplay:
    """Training loss per iteration and, if given, a held-out score and loss per
    iteration.

    It is recommended to create a display with :meth:`from_estimator`. The
    loss is drawn against the iteration number ``1, ..., n_iter`` on the
    left y axis; the scores, when there are any, on a second y axis at the
    right (a twin of the loss axes, which later displays drawn on the same
    axes share) or on axes of their own (``score_ax``). Each display draws
    its scores in the colour of its loss curve, dashed on a twin axis, so
    that several estimators can be compared on one axes. A validation loss,
    when there is one, shares the loss axis, dotted in the same colour. The
    legend goes
    under the axes, where it hides no curve and leaves room for a title; on
    a logarithmic loss axis the ticks between powers of ten are labelled too.

    Parameters
    ----------
    loss_curve : array-like of shape (n_iter,)
        The training objective of each iteration, as an estimator's
        ``loss_curve_``.

    scores : array-like of shape (n_iter,), default=None
        A held-out score after each iteration, from :func:`score_curve` or an
        estimator's ``validation_scores_``. None draws the loss only.

    name : str, default=None
        Name of the estimator, the prefix of the legend entries. None gives
        entries without a prefix.

    score_name : str, default=None
        What ``scores`` measures, in lower case as it appears in the legend,
        for example ``'test accuracy'``; the y label is the same with a
        capital first letter. None gives ``'score'``.

    validation_loss_curve : array-like of shape (n_iter,), default=None
        The loss on validation rows after each iteration, as an estimator's
        ``validation_loss_curve_``, drawn beside the training loss: the two
        parting is overfitting. None draws the training loss only.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The loss curve.

    validation_line_ : matplotlib Line2D or None
        The validation loss curve; None without one.

    score_line_ : matplotlib Line2D or None
        The score curve; None without scores.

    ax_ : matplotlib Axes
        Axes with the loss curve.

    score_ax_ : matplotlib Axes or None
        Axes with the score curve; None without scores.

    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    LossCurveDisplay.from_estimator : Plot the loss curve of a fitted
        estimator.
    score_curve : Record a held-out score per epoch with partial_fit.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skmlp import LossCurveDisplay
    >>> display = LossCurveDisplay(
    ...     loss_curve=[1.2, 0.7, 0.5], scores=[0.6, 0.8, 0.9],
    ...     name="NAG", score_name="test accuracy").plot()
    >>> display.line_.get_ydata().tolist()
    [1.2, 0.7, 0.5]
    >>> [text.get_text() for text in display.score_ax_.get_legend().get_texts()]
    ['NAG: training loss', 'NAG: test accuracy']
    >>> plt.close(display.figure_)
    """

    def __init__(
        self,
        *,
        loss_curve,
        scores=None,
        name=None,
        score_name=None,
        validation_loss_curve=None,
    ):
        self.loss_curve = loss_curve
        self.scores = scores
        self.name = name
        self.score_name = score_name
        self.validation_loss_curve = validation_loss_curve

    def plot(
        self,
        ax=None,
        *,
        score_ax=None,
        name=None,
        log_scale=False,
        loss_kw=None,
        score_kw=None,
        validation_loss_kw=None,
    ):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes for the loss curve. None creates a new figure and axes, with
            constrained layout, which makes room for the legend under the
            axes (on a figure of your own, use it or
            ``savefig(..., bbox_inches="tight")``).

        score_ax : matplotlib Axes, default=None
            Axes for the score curve. None uses the twin axes of ``ax`` that
            an earlier display created, or creates it.

        name : str, default=None
            Overrides the ``name`` of the display.

        log_scale : bool, default=False
            Whether the loss axis is logarithmic, which shows a linear rate
            of convergence as a straight line.

        loss_kw : dict, default=None
            Keyword arguments for matplotlib's ``plot`` of the loss curve.

        score_kw : dict, default=None
            Keyword arguments for matplotlib's ``plot`` of the score curve.

        validation_loss_kw : dict, default=None
            Keyword arguments for matplotlib's ``plot`` of the validation
            loss curve.

        Returns
        -------
        display : LossCurveDisplay
            The display, with the attributes ``line_``, ``validation_line_``,
            ``score_line_``, ``ax_``, ``score_ax_`` and ``figure_`` set.
        """
        loss_curve = np.asarray(self.loss_curve, dtype=float)
        if loss_curve.ndim != 1 or loss_curve.size == 0:
            raise ValueError("loss_curve must be a non-empty 1-d sequence.")
        scores = _per_iteration(self.scores, "scores", "score", loss_curve.shape)
        validation_loss = _per_iteration(
            self.validation_loss_curve,
            "validation_loss_curve",
            "validation loss",
            loss_curve.shape,
        )
        if ax is None:
            import matplotlib.pyplot as plt

            # Constrained layout makes room for the legend under the axes.
            _, ax = plt.subplots(layout="constrained")
        name = self.name if name is None else name
        score_name = "score" if self.score_name is None else self.score_name
        iterations = np.arange(1, loss_curve.size + 1)
        # A curve of one iteration is a point: a line alone draws nothing.
        point = {"marker": "o"} if loss_curve.size == 1 else {}

        loss_kw = _validate_style_kwargs(
            {"label": _legend_label(name, "training loss"), **point}, loss_kw or {}
        )
        (self.line_,) = ax.plot(iterations, loss_curve, **loss_kw)
        self.validation_line_ = None
        if validation_loss is not None:
            validation_loss_kw = _validate_style_kwargs(
                {
                    "label": _legend_label(name, "validation loss"),
                    "color": self.line_.get_color(),
                    "linestyle": ":",
                    **point,
                },
                validation_loss_kw or {},
            )
            (self.validation_line_,) = ax.plot(
                iterations, validation_loss, **validation_loss_kw
            )
        ax.set_xlabel("Iteration")
        ax.set_ylabel("Training loss" if validation_loss is None else "Loss")
        if log_scale:
            ax.set_yscale("log")
            _label_log_axis(ax.yaxis)

        self.score_line_ = None
        self.score_ax_ = None
        if scores is not None:
            if score_ax is None:
                score_ax = _score_twin(ax, create=True)
            is_twin = score_ax.get_label() == _SCORE_AXES_LABEL
            score_kw = _validate_style_kwargs(
                {
                    "label": _legend_label(name, score_name),
                    "color": self.line_.get_color(),
                    "linestyle": "--" if is_twin else "-",
                    **point,
                },
                score_kw or {},
            )
            (self.score_line_,) = score_ax.plot(iterations, scores, **score_kw)
            score_ax.set_ylabel(score_name[:1].upper() + score_name[1:])
            self.score_ax_ = score_ax
            if not is_twin:
                _legend_below(score_ax, score_ax.get_lines())

        twin = _score_twin(ax, create=False)
        if twin is None:
            _legend_below(ax, ax.get_lines())
        else:
            # One legend for both y axes, drawn on the twin, which lies on
            # top; entries of earlier displays on this axes are kept.
            if ax.get_legend() is not None:
                ax.get_legend().remove()
            _legend_below(twin, [*ax.get_lines(), *twin.get_lines()], anchor=ax)

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        scores=None,
        score_name=None,
        name=None,
        ax=None,
        score_ax=None,
        log_scale=False,
        loss_kw=None,
        score_kw=None,
        validation_loss_kw=None,
    ):
        """Plot the loss curve of a fitted estimator, and scores if any.

        Parameters
        ----------
        estimator : estimator instance
            A fitted estimator with ``loss_curve_``, such as
            :class:`SoftplusMLPClassifier`, or a fitted
            :class:`~sklearn.pipeline.Pipeline` whose last step is one.

        scores : array-like of shape (n_iter,), default=None
            A held-out score after each iteration, as returned by
            :func:`score_curve`. None uses the estimator's
            ``validation_scores_`` when it has them (``early_stopping=True``)
            and draws the loss only otherwise. The estimator's
            ``validation_loss_curve_``, when it has one, is drawn too.

        score_name : str, default=None
            What ``scores`` measures, in lower case, for example
            ``'test accuracy'``. None gives ``'validation accuracy'`` for
            a classifier's ``validation_scores_``, ``'validation R²'`` for a
            regressor's, and ``'score'`` otherwise.

        name : str, default=None
            Prefix of the legend entries. None uses the class name of the
            estimator (of the last step of a pipeline).

        ax : matplotlib Axes, default=None
            Axes for the loss curve. None creates a new figure and axes. Pass
            the ``ax_`` of an earlier display to compare estimators.

        score_ax : matplotlib Axes, default=None
            Axes for the score curve. None uses a twin of ``ax``.

        log_scale : bool, default=False
            Whether the loss axis is logarithmic.

        loss_kw : dict, default=None
            Keyword arguments for matplotlib's ``plot`` of the loss curve.

        score_kw : dict, default=None
            Keyword arguments for matplotlib's ``plot`` of the score curve.

        validation_loss_kw : dict, default=None
            Keyword arguments for matplotlib's ``plot`` of the validation
            loss curve.

        Returns
        -------
        display : LossCurveDisplay
            The display, drawn.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.preprocessing import StandardScaler
        >>> from skmlp import LossCurveDisplay, SoftplusMLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> X = StandardScaler().fit_transform(X)
        >>> gd = SoftplusMLPClassifier(
        ...     solver="gd", learning_rate_init=1.0, max_iter=300, random_state=0)
        >>> nag = SoftplusMLPClassifier(
        ...     solver="nag", learning_rate_init=1.0, max_iter=300, random_state=0)
        >>> display = LossCurveDisplay.from_estimator(gd.fit(X, y), name="GD")
        >>> display = LossCurveDisplay.from_estimator(
        ...     nag.fit(X, y), name="NAG", ax=display.ax_, log_scale=True)
        >>> [text.get_text() for text in display.ax_.get_legend().get_texts()]
        ['GD: training loss', 'NAG: training loss']
        >>> display.line_.get_ydata().tolist() == nag.loss_curve_
        True
        >>> plt.close(display.figure_)
        """
        learner = estimator[-1] if isinstance(estimator, Pipeline) else estimator
        check_is_fitted(learner)
        if not hasattr(learner, "loss_curve_"):
            raise ValueError(
                f"{learner.__class__.__name__} has no loss_curve_ to plot."
            )
        if scores is None and getattr(learner, "validation_scores_", None) is not None:
            scores = learner.validation_scores_
            if score_name is None:
                # What the estimator's score is: a regressor's is the R².
                kind = "R²" if is_regressor(learner) else "accuracy"
                score_name = f"validation {kind}"
        display = cls(
            loss_curve=learner.loss_curve_,
            scores=scores,
            name=learner.__class__.__name__ if name is None else name,
            score_name=score_name,
            validation_loss_curve=getattr(learner, "validation_loss_curve_", None),
        )
        return display.plot(
            ax=ax,
            score_ax=score_ax,
            log_scale=log_scale,
            loss_kw=loss_kw,
            score_kw=score_kw,
            validation_loss_kw=validation_loss_kw,
        )


def _per_iteration(values, name, what, shape):
    """``values`` as a float array of one entry per iteration (``shape``,
    the loss curve's), or None; a ValueError for another shape."""
    if values is None:
        return None
    values = np.asarray(values, dtype=float)
    if values.shape != shape:
        raise ValueError(
            f"{name} has shape {values.shape}, but there is one {what} per "
            f"iteration: expected {shape}."
        )
    return values


def plot_study(histories, path, *, title=None):
    """Write the study's figure: training loss and test accuracy per iteration.

    The left panel shows the training loss of every run on a logarithmic
    axis, the right panel its test accuracy, one colour per run: a run named
    after a solver (``'GD'``, ``'NAG'``, ``'LBFGS'``) has that solver's colour in
    :data:`SOLVER_COLORS` whatever the other runs.

    Parameters
    ----------
    histories : dict of str to (array-like, array-like)
        ``{name: (loss_curve, test_accuracy)}``, for example
        ``{'GD': (gd.loss_curve_, gd_scores), 'NAG': ...}`` with the scores of
        :func:`score_curve`; the two sequences of a run have one entry per
        iteration.

    path : str or path-like
        The image file to write; its suffix (``.png``) picks the format.

    title : str, default=None
        Title of the figure; None gives none.

    Returns
    -------
    figure : matplotlib Figure
        The figure written to ``path``, with the loss and the accuracy axes.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skmlp._plot import plot_study
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "study.png"
    ...     figure = plot_study(
    ...         {"GD": ([1.1, 1.0, 0.9], [0.3, 0.5, 0.6]),
    ...          "NAG": ([1.1, 0.8, 0.4], [0.3, 0.7, 0.9])},
    ...         path)
    ...     path.stat().st_size > 0
    True
    >>> [line.get_label() for line in figure.axes[1].get_lines()]
    ['GD: test accuracy', 'NAG: test accuracy']
    """
    # A bare Figure renders without pyplot, so no GUI backend is involved and
    # nothing stays open after the file is written.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), layout="constrained")
    loss_ax, score_ax = figure.subplots(1, 2)
    for name, (loss_curve, test_accuracy) in histories.items():
        color = SOLVER_COLORS.get(name.upper())
        style = None if color is None else {"color": color}
        LossCurveDisplay(
            loss_curve=loss_curve,
            scores=test_accuracy,
            name=name,
            score_name="test accuracy",
        ).plot(
            ax=loss_ax,
            score_ax=score_ax,
            log_scale=True,
            loss_kw=style,
            score_kw=style,
        )
    score_ax.set_xlabel("Iteration")
    if title is not None:
        figure.suptitle(title)
    figure.savefig(path, dpi=100)
    return figure


def _legend_below(axes, lines, anchor=None):
    """Draw the legend of the labelled ``lines`` on ``axes``, under the x
    axis of ``anchor`` (default ``axes``): outside the axes, it hides no data
    wherever the curves run, and leaves the space above for a title."""
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties
    from matplotlib.transforms import offset_copy

    anchor = axes if anchor is None else anchor
    handles = [line for line in lines if not line.get_label().startswith("_")]
    if not handles:
        # Every line hidden from the legend ("_nolegend_"): none to draw
        # (matplotlib's legend of no handles raised a ValueError).
        if axes.get_legend() is not None:
            axes.get_legend().remove()
        return
    # Under the tick labels and the axis label, as the rc settings size them.
    xaxis = anchor.xaxis
    text_heights = [
        1.2 * FontProperties(size=size).get_size_in_points()
        for size in (xaxis.label.get_fontsize(), rcParams["xtick.labelsize"])
    ]
    depth = (
        rcParams["xtick.major.size"]
        + rcParams["xtick.major.pad"]
        + xaxis.labelpad
        + sum(text_heights)
        + 4
    )
    place = dict(
        handles=handles,
        labels=[handle.get_label() for handle in handles],
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=offset_copy(
            anchor.transAxes, fig=anchor.figure, y=-depth, units="points"
        ),
    )
    legend = axes.legend(**place, ncols=min(2, len(handles)))
    if len(handles) > 1:
        # Two columns of long labels (a classifier's "validation accuracy"
        # beside its name) ran past the figure's sides, or into the next
        # cell of a grid of subplots, which constrained layout does not
        # move: then one column.
        cell = _cell_width(anchor)
        if legend.get_window_extent().width > cell:
            legend = axes.legend(**place, ncols=1)
            if legend.get_window_extent().width > cell:
                # Still wider (a narrow cell): the name on a line of its own.
                place["labels"] = [
                    label.replace(": ", ":\n", 1) for label in place["labels"]
                ]
                axes.legend(**place, ncols=1)


def _cell_width(axes):
    """The width in pixels of the figure's share that ``axes`` stands in:
    its columns of the grid of subplots, or the whole figure."""
    width = axes.figure.bbox.width
    get_spec = getattr(axes, "get_subplotspec", None)
    spec = get_spec() if get_spec is not None else None
    if spec is None:
        return width
    columns = spec.colspan
    return width * (columns.stop - columns.start) / spec.get_gridspec().ncols


def _label_log_axis(axis):
    """Label a logarithmic ``axis`` between its powers of ten too: by default
    an axis over one or two decades shows only two labelled ticks."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    formatter = FuncFormatter(lambda value, _: _log_tick_label(value, axis))
    axis.set_minor_locator(LogLocator(base=10.0, subs=np.arange(2, 10)))
    axis.set_major_formatter(formatter)
    axis.set_minor_formatter(formatter)


def _log_tick_label(value, axis):
    """A plain number (0.05, 0.1, 0.2) for a tick of a logarithmic axis, or
    none: every tick is labelled over at most one decade, the 2s and 5s of
    each decade over at most three, only the powers of ten over more, so that
    the labels never crowd."""
    low, high = sorted(axis.get_view_interval())
    if value <= 0 or low <= 0:
        return ""
    decades = math.log10(high / low)
    exponent = math.log10(value)
    mantissa = round(10 ** (exponent - math.floor(exponent + 1e-9)))
    if mantissa == 1 or decades <= 1 or (decades <= 3 and mantissa in (2, 5)):
        return f"{value:g}"
    return ""


def _legend_label(name, what):
    return what if name is None else f"{name}: {what}"


def _score_twin(ax, create):
    """The twin axes of ``ax`` that holds scores; made if ``create`` and absent."""
    for other in ax.figure.axes:
        if (
            other is not ax
            and other.get_label() == _SCORE_AXES_LABEL
            and ax.get_shared_x_axes().joined(ax, other)
        ):
            return other
    if not create:
        return None
    twin = ax.twinx()
    twin.set_label(_SCORE_AXES_LABEL)
    return twin
