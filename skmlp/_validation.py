"""Checks of what ``fit`` and ``partial_fit`` are given, before training.

The estimator calls these on a view of itself (:func:`view` below), so
that what validation learns (``classes_``, ``n_features_in_``,
``feature_names_in_``) reaches the estimator only with the rest of the
fitted model.
"""

import math
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.exceptions import DataConversionWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._math.datafits import constant_outputs, scaled_weights
from ._sklearn_compat import _check_partial_fit_first_call, _check_sample_weight
from ._warnings import warn_at_user_code

# column_or_1d's DataConversionWarning, in its words.
COLUMN_VECTOR_MESSAGE = (
    "A column-vector y was passed when a 1d array was expected. Please change "
    "the shape of y to (n_samples, ), for example using ravel()."
)


def view(estimator):
    """An estimator with a copy of ``estimator``'s attributes as they are.

    The estimator writes all its fitted attributes at once, at the end of a
    call, so a view holds the model before the call or after it, never a
    mix: what ``predict`` in another thread reads, and what a call
    validates its data on.
    """
    model = object.__new__(type(estimator))
    model.__dict__ = dict(estimator.__dict__)
    return model


def fitted_view(estimator):
    """A :func:`view` of ``estimator``, checked to be fitted."""
    model = view(estimator)
    check_is_fitted(model)
    return model


# What validating the data of a fit can write to the model (the view).
LEARNED_ATTRIBUTES = (
    "classes_",
    "out_activation_",
    "n_features_in_",
    "feature_names_in_",
    # True when multilabel targets came as a sparse matrix: predict then
    # returns one, as MLPClassifier's label binarizer does; absent otherwise.
    "_sparse_labels",
)


def learned_attributes(model):
    """What validating the data of a fit wrote to ``model``: ``classes_``,
    ``out_activation_``, ``n_features_in_`` and, if ``X`` had column names,
    ``feature_names_in_``."""
    state = vars(model)
    return {name: state[name] for name in LEARNED_ATTRIBUTES if name in state}


def validate_call(
    model,
    X,
    y,
    sample_weight,
    incremental,
    first_call,
    weight_dtype=None,
    keep_model_dtype=True,
):
    """Validate the data of ``fit`` (``incremental=False``) or
    ``partial_fit`` on ``model``, a view of the estimator; ``first_call``
    is whether the call starts afresh (:func:`starts_afresh`).
    ``weight_dtype`` is that of the sample weights, by default ``X``'s
    (``check_gradients`` takes them in float64 whatever ``X`` is). A call
    that goes on from fitted weights takes ``X`` in their dtype
    (:func:`in_model_dtype`) unless ``keep_model_dtype`` is False
    (``check_gradients``, which computes in float64).

    Returns ``(X, y, sample_weight)``: ``y`` as the datafit takes it
    (for a classifier indices into ``model.classes_``, or a float indicator
    matrix for multilabel targets, see :func:`encode_labels`; for a
    regressor a float matrix of one column per output, see
    :func:`regression_targets`).
    """
    classifier = is_classifier(model)
    sparse_targets = sp.issparse(y)
    if not classifier:
        refuse_string_columns(y, "y")
    X, y = validate_input(model, X, y, reset=first_call, regression=not classifier)
    if not first_call and keep_model_dtype:
        X = in_model_dtype(model, X)
    if classifier:
        check_classification_targets(y)
    check_weights_castable(
        sample_weight,
        weight_dtype or X.dtype,
        "sample_weight",
        X,
        "model" if not first_call and keep_model_dtype else "X",
    )
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=weight_dtype or X.dtype, ensure_non_negative=True
    )
    check_weight_sum(sample_weight)
    if classifier:
        y = encode_labels(model, y, incremental, first_call)
        if first_call:
            # The first call fixes the kind of predictions, as it fixes
            # classes_ (MLPClassifier's label binarizer is fitted there).
            if sparse_targets and model.out_activation_ == "logistic":
                model._sparse_labels = True
            else:
                vars(model).pop("_sparse_labels", None)
    else:
        y = regression_targets(model, y, first_call, X.dtype)
        y = without_unweighed_targets(y, sample_weight)
    return X, y, sample_weight


def check_weights_castable(sample_weight, dtype, name, X, whose="X", prefix=""):
    """Refuse weights that the cast to ``dtype`` (that of ``whose``: ``"X"``,
    or ``"model"`` for a call that goes on from fitted weights, in which
    the rows are weighed) would make infinite, or all zero.

    ``_check_sample_weight`` casts first and checks after: float64 weights
    of 1e39 with float32 ``X`` were said to contain infinity, and weights of
    1e-46, all positive, to contain no non-zero number. Scalars, weights of
    another shape than ``(n_rows,)``, negative ones, and NaN or infinite
    entries are left to its own checks and words, made first in float64
    (after the cast, negative weights of -1e39 were said to contain
    infinity, and 30 weights for 40 rows to be too large), their messages
    after ``prefix``.
    """
    if sample_weight is None or np.isscalar(sample_weight):
        return
    weights = np.asarray(sample_weight)
    dtype = np.dtype(dtype)
    if weights.dtype.kind != "f" or weights.dtype.itemsize <= dtype.itemsize:
        return
    try:
        _check_sample_weight(weights, X, dtype=np.float64, ensure_non_negative=True)
    except ValueError as error:
        raise ValueError(f"{prefix}{error}") from None
    finite = weights[np.isfinite(weights)]
    largest = finite.max() if finite.size else 0.0
    if largest > np.finfo(dtype).max:
        problem = "a value too large for"
    elif largest > 0 and not np.any(finite.astype(dtype)):
        problem = "only values that round to 0 in"
    else:
        return
    if whose == "model":
        where = (
            "the dtype of the fitted model that this call goes on from (set "
            "by its first call)"
        )
    else:
        where = "the dtype of X"
    # Casting X helps only where X's float32 is what decides.
    cast = "Cast X to float64, or d" if whose == "X" and dtype == np.float32 else "D"
    # The validation rows' weights only score: their ratios are all that
    # matters. The training rows' sum divides the penalty.
    alpha = (
        ""
        if name.endswith("_val")
        else " (and alpha by the same: the penalty is divided by their sum)"
    )
    raise ValueError(
        f"{name} contains {problem} dtype('{dtype}'), {where}, in which the "
        f"rows are weighed. {cast}ivide the weights by the largest{alpha}."
    )


def without_unweighed_targets(y, sample_weight):
    """A regressor's targets ``y`` (a float matrix) with those of rows of
    weight 0 set to 0, a copy if there are any.

    A row of weight 0 is as good as absent: its targets take part in no
    sum. But the square of a target above 1e154 is inf, and inf times the
    weight 0 is NaN, which made the loss NaN and the fit a DivergenceError
    that blamed the targets' scale. Their range is checked before, as for
    every row (a negative count is refused wherever it is)."""
    unweighed = sample_weight == 0
    if not unweighed.any():
        return y
    return np.where(unweighed[:, None], 0.0, y)


def in_model_dtype(model, X):
    """``X`` in the dtype of the fitted weights that the call goes on from.

    A model fitted in float32 stays float32 when a later call
    (``partial_fit``, or ``fit`` with ``warm_start``) brings float64 rows,
    and one fitted in float64 stays float64, as ``MLPClassifier``'s weights
    keep their dtype: the first call chose the precision of the model. A
    float64 value past float32's range is refused in scikit-learn's words,
    not cast to inf.
    """
    return cast_in_range(
        X,
        model.coefs_[0].dtype,
        "X",
        "the dtype of the fitted model that this call goes on from (set by its "
        "first call)",
    )


def cast_in_range(X, dtype, name, whose):
    """``X`` (named ``name``) cast to ``dtype``, which is ``whose``; a
    float64 value past float32's range is refused in scikit-learn's words,
    not cast to inf with NumPy's overflow warning (which the divergence
    rule then blamed on the training)."""
    if X.dtype == dtype:
        return X
    values = X.data if sp.issparse(X) else X
    if values.size and np.abs(values).max() > np.finfo(dtype).max:
        raise ValueError(
            f"Input {name} contains infinity or a value too large for "
            f"dtype('{np.dtype(dtype)}'), {whose}."
        )
    return X.astype(dtype)


def starts_afresh(model, hidden, incremental, classes):
    """Whether a call starts afresh: a first call, a ``fit`` without
    ``warm_start``, or a ``fit`` for a network whose hidden layers changed
    since the last (the old weights cannot start it). ``hidden`` are the
    validated hidden layer sizes (:func:`hidden_layer_sizes`). Checks
    ``classes`` of a first ``partial_fit`` (and sets ``model.classes_``
    from them), and that ``partial_fit`` goes on with the same shape."""
    fitted = hasattr(model, "coefs_")
    reshaped = fitted and fitted_hidden_layer_sizes(model) != hidden
    if incremental:
        if reshaped:
            raise ValueError(
                "hidden_layer_sizes changed from "
                f"{fitted_hidden_layer_sizes(model)} to {hidden} since the "
                "model was fitted: partial_fit cannot go on training a "
                "network of another shape. Call fit to train the new one."
            )
        if not is_classifier(model):
            # A regressor learns its outputs from y, on the first call.
            return not fitted
        return _check_partial_fit_first_call(model, classes)
    return not (model.warm_start and fitted) or reshaped


def validate_input(model, X, y="no_validation", reset=False, regression=False):
    """``validate_data`` for this estimator: float64 or float32, dense or CSR.

    Returns ``X``, or ``(X, y)`` when ``y`` is given: for ``regression``,
    numbers (``y_numeric``); a column of one label or target per row as a
    vector, with scikit-learn's DataConversionWarning.
    """
    # An indicator matrix of multilabel targets is one y per row, as are
    # a regressor's outputs.
    targets = {} if isinstance(y, str) else {"multi_output": True}
    if regression and targets:
        targets["y_numeric"] = True
    validated = validate_data(
        model,
        X,
        y,
        accept_sparse=["csr", "csc"],
        dtype=(np.float64, np.float32),
        reset=reset,
        **targets,
    )
    X, y = validated if isinstance(validated, tuple) else (validated, None)
    if sp.issparse(X):
        X = X.tocsr()
    if y is None:
        return X
    if sp.issparse(y):
        y = y.toarray()
    if y.ndim == 2 and y.shape[1] == 1:
        # A column is one label (or one target) per row, with
        # MLPClassifier's (and MLPRegressor's) DataConversionWarning, in its
        # words, at the user's line as skmlp's other warnings (column_or_1d's
        # own stacklevel named this file).
        warn_at_user_code(COLUMN_VECTOR_MESSAGE, DataConversionWarning)
        y = column_or_1d(y)
    return X, y


def hidden_layer_sizes(sizes):
    """``hidden_layer_sizes`` as a tuple of positive ints, or a ValueError.

    A size that is not an integer (``7.0``, ``True``) is told apart from one
    that is not positive: "must be > 0" (MLPClassifier's words) would be
    false of ``7.0``. A 0-d array (``np.array(5)``), which the estimator's
    parameter constraints take as an array-like but which cannot be
    iterated, is the one size it holds, as ``np.int64(5)`` is.
    """
    if isinstance(sizes, np.ndarray) and sizes.ndim == 0:
        sizes = [sizes.item()]
    sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
    if any(isinstance(size, bool) or not isinstance(size, Integral) for size in sizes):
        raise ValueError(
            f"hidden_layer_sizes must be integers (the number of units of "
            f"each hidden layer), got {sizes}."
        )
    if any(size <= 0 for size in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return tuple(int(size) for size in sizes)


def fitted_hidden_layer_sizes(model):
    """The hidden layer sizes of the network ``model`` holds."""
    return tuple(coef.shape[1] for coef in model.coefs_[:-1])


def encode_labels(model, y, incremental, first_call):
    """Set or check ``model.classes_`` and ``model.out_activation_``; return
    ``y`` as the datafit takes it.

    One label per row gives ``out_activation_ = 'softmax'`` and ``y`` as
    indices into ``classes_``. An indicator matrix (multilabel targets)
    gives ``'logistic'``, ``classes_ = arange(n_labels)`` as
    ``MLPClassifier`` sets them, and ``y`` as a float matrix of 0s and 1s.
    """
    multilabel = is_multilabel(y)
    kind = "logistic" if multilabel else "softmax"
    labels = np.arange(y.shape[1]) if multilabel else unique_labels(y)
    if first_call and not incremental:
        model.classes_ = labels
    elif first_call:
        # _check_partial_fit_first_call set classes_ from `classes`.
        check_partial_fit_classes(model.classes_, labels, multilabel)
    else:
        check_same_kind(model.out_activation_, kind)
        # A warm start's words first, as MLPClassifier's: a multilabel refit
        # on fewer labels was told label_binarize's, which spoke of neither.
        if not incremental and model.warm_start and set(labels) != set(model.classes_):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes "
                f"as in the previous call to fit. Previously got "
                f"{model.classes_}, `y` has {labels}"
            )
        if multilabel and len(labels) != len(model.classes_):
            # scikit-learn's words (label_binarize).
            raise ValueError(
                f"classes {model.classes_} mismatch with the labels {labels} "
                "found in the data"
            )
    if first_call:
        model.out_activation_ = kind
    if incremental or not first_call:
        unseen = np.setdiff1d(labels, model.classes_)
        if len(unseen):
            raise ValueError(
                "`y` has classes not in `self.classes_`. "
                f"`self.classes_` has {model.classes_}. 'y' has {labels}."
            )
    if multilabel:
        return np.asarray(y, dtype=np.float64)
    return np.searchsorted(model.classes_, y)


# A regressor's output layer, by its loss (MLPRegressor's out_activation_).
OUT_ACTIVATIONS = {"squared_error": "identity", "poisson": "exp"}


def numeric_targets(y, name, dtype=None):
    """A regressor's targets ``y`` (validated, named ``name`` in messages)
    as a float64 matrix of one column per output; checked to fit in
    ``dtype``, that of ``X``, in which the objective takes them.

    Strings are refused, as scikit-learn's ``check_array`` refuses them for
    numeric data: ``validate_data`` lets them through as the targets of
    several outputs, and NumPy would read ``"1.5"`` as 1.5, so that labels
    written as numbers would be fitted as quantities without a word.
    (Objects, which scikit-learn converts to floats, are taken as it takes
    them.)
    """
    refuse_strings(y.dtype, name)
    y = np.asarray(y, dtype=np.float64)
    if dtype is not None:
        check_target_range(np.abs(y).max(initial=0.0), name, dtype)
    return y.reshape(len(y), -1)


def check_target_range(largest, name, dtype):
    """The ValueError of targets whose largest absolute value ``largest``
    is past the range of ``dtype`` (float32 X): cast to it, they became
    infinities with NumPy's overflow warning, and the divergence rule then
    blamed the training."""
    if largest > np.finfo(dtype).max:
        raise ValueError(
            f"Input {name} contains a value too large for dtype('{np.dtype(dtype)}'), "
            f"the dtype of X in which the targets are fitted (the largest "
            f"absolute value is {largest:.3g}). Scale the targets (for example "
            "with TransformedTargetRegressor and a StandardScaler), or pass X "
            "as float64."
        )


def refuse_strings(dtype, name):
    """The ValueError of :func:`numeric_targets` for targets of strings (of
    ``dtype``), on the rows in memory or on a cluster, and for dates and
    durations.

    pandas' string dtypes (that of a Series of strings since pandas 3) are
    strings too, though NumPy sees objects. A date or a duration would be
    read as a count of its dtype's unit: the same durations in days and in
    nanoseconds made targets 1e14 times apart, without a word.
    """
    if dtype is None:
        return
    if _unknown_categories(dtype):
        # Dask's placeholder for categories not yet computed (a Series made
        # categorical by astype("category")): a string, it had numbers
        # refused as strings. refuse_string_columns computes them.
        return
    categories = getattr(dtype, "categories", None)
    if categories is not None:
        # A pandas Categorical is the common form of labels: its categories
        # decide (numbers written as strings, "1.5" and "2.5", were fitted
        # as quantities, where the same strings as a Series were refused).
        if getattr(categories, "inferred_type", None) in ("string", "bytes"):
            strings = True
        else:
            refuse_strings(categories.dtype, name)
            return
    else:
        strings = dtype.kind in "SU" or type(dtype).__name__ == "StringDtype"
    if strings:
        raise ValueError(
            f"{name} holds strings (dtype {dtype}), which are not compatible "
            "with a regressor's numeric targets. Convert your data to numeric "
            "values explicitly instead."
        )
    if dtype.kind in "Mm":
        raise ValueError(
            f"{name} holds dates or durations (dtype {dtype}), which are not "
            "numeric targets: as numbers they would be counts of the dtype's "
            "unit. Convert them to numbers in the unit you mean explicitly, "
            "for example y / np.timedelta64(1, 'D') for durations in days."
        )


def refuse_string_columns(y, name):
    """:func:`refuse_strings` on each column of the targets ``y`` as given,
    before ``validate_data``: it makes an object array of pandas strings,
    which it then reads as numbers."""
    dtypes = getattr(y, "dtypes", None)
    if not hasattr(dtypes, "iloc"):
        # Not a DataFrame's Series of dtypes: one dtype, or none (a list).
        columns = [(getattr(y, "dtype", None), y)]
    else:
        columns = [(dtype, y[column]) for column, dtype in dtypes.items()]
    for dtype, column in columns:
        if _unknown_categories(dtype) and hasattr(column, "cat"):
            # A Dask categorical whose categories are not computed yet: its
            # categories decide, so they are computed (a pass over the
            # column; the rows are computed anyway).
            dtype = column.cat.as_known().dtype
        refuse_strings(dtype, name)


def _unknown_categories(dtype):
    """Whether ``dtype`` is a Dask categorical's whose categories are not
    known yet (its placeholder category)."""
    categories = getattr(dtype, "categories", None)
    return categories is not None and list(categories[:2]) == ["__UNKNOWN_CATEGORIES__"]


def regression_targets(model, y, first_call, dtype=None):
    """Set or check a regressor's ``out_activation_`` (from its ``loss``)
    and ``n_outputs_`` (the columns of ``y``); return ``y`` as the datafit
    takes it, a float64 matrix of one column per output.

    The Poisson deviance needs ``y >= 0`` (scikit-learn's words, those of
    ``MLPRegressor`` and ``PoissonRegressor``). A later call (``partial_fit``,
    or ``fit`` with ``warm_start``) must have the fitted model's loss and
    number of outputs: its output layer is made for them.
    """
    y = numeric_targets(y, "y", dtype)
    kind = OUT_ACTIVATIONS[model.loss]
    if kind == "exp" and (y < 0).any():
        raise ValueError(
            "Some value(s) of y are out of the valid range of the loss "
            "'HalfPoissonLoss'."
        )
    if first_call:
        model.out_activation_ = kind
        model.n_outputs_ = y.shape[1]
        return y
    if model.out_activation_ != kind:
        fitted = {value: key for key, value in OUT_ACTIVATIONS.items()}
        raise ValueError(
            f"loss changed from {fitted[model.out_activation_]!r} to "
            f"{model.loss!r} since the model was fitted: its output layer is "
            "made for the first. Call fit (with warm_start=False) to train "
            "for the new loss."
        )
    if y.shape[1] != model.n_outputs_:
        raise ValueError(
            f"y has {y.shape[1]} output(s) (columns), but the model was "
            f"fitted on {model.n_outputs_}: a fitted model can only go on "
            "with targets of the same outputs. Call fit (with "
            "warm_start=False) to train for the new ones."
        )
    return y


def n_outputs(model):
    """The number of outputs of the network of ``model``, a view whose call
    has been validated: its classes, or a regressor's targets."""
    return len(model.classes_) if is_classifier(model) else model.n_outputs_


def is_multilabel(y):
    """Whether ``y`` (checked by ``check_classification_targets``) is an
    indicator matrix of multilabel targets; a ValueError for a matrix of
    other values."""
    if y.ndim < 2:
        return False
    values = np.unique(y)
    if not np.isin(values, (0, 1)).all():
        # scikit-learn's words (LabelBinarizer), then what is expected.
        raise ValueError(
            "Multioutput target data is not supported with label "
            "binarization: a 2-D y must be an indicator matrix of multilabel "
            f"targets, of 0s and 1s only; y has the values {values}."
        )
    return True


def check_partial_fit_classes(classes, labels, multilabel):
    """On a first ``partial_fit`` call with multilabel targets, ``classes``
    must be the labels ``0..n_labels-1``, which ``classes_`` becomes."""
    # Strings are not the labels' numbers: not compared, since NumPy before
    # 1.25 warns when it compares strings with numbers elementwise.
    if multilabel and not (
        classes.dtype.kind not in "US" and np.array_equal(classes, labels)
    ):
        raise ValueError(
            f"classes={classes.tolist()} does not name the {len(labels)} labels "
            "of the multilabel y: for an indicator matrix y, pass "
            f"classes=range({len(labels)}), one class per column."
        )


def check_same_kind(fitted, given):
    """A model of one label per row cannot go on with multilabel targets,
    nor the other way round."""
    if fitted == given:
        return
    if given == "logistic":
        # scikit-learn's words (LabelBinarizer), then why.
        raise ValueError(
            "The object was not fitted with multilabel input. The model was "
            "fitted on one label per row: y cannot be an indicator matrix now."
        )
    raise ValueError(
        "The model was fitted on multilabel targets (an indicator matrix y): "
        "y must be an indicator matrix of the same labels, not one label per "
        "row."
    )


def check_weight_sum(sample_weight):
    """Raise a ValueError unless the weights have a positive, finite sum.

    The objective divides by the sum: one that overflows would make every
    loss NaN, which would be reported as a divergence. The objective, whose
    penalty is divided by the sum too, depends on the weights and ``alpha``
    only through ``sample_weight / alpha``: the advice keeps that ratio
    (docs/user_guide.rst, the objective).
    """
    with np.errstate(over="ignore"):
        total = sample_weight.sum()
    if not np.isfinite(total):
        raise ValueError(
            "sample_weight is out of range: its sum overflows "
            f"{sample_weight.dtype} (the largest weight is "
            f"{sample_weight.max():.3g}). Divide sample_weight and alpha by "
            "the same factor, for example the largest weight: the objective "
            "divides both the weighted loss and the penalty alpha / 2 "
            "||W||^2 by the sum of the weights, so it stays the same, and so "
            "does the model. Dividing the weights alone would strengthen "
            "the penalty."
        )
    check_positive_weight(total)


def check_positive_weight(total):
    """Raise a ValueError unless ``total``, the sum of the training rows'
    weights, is positive: the one message of the rows in memory and of
    those on a Dask cluster."""
    if total <= 0:
        raise ValueError("The sum of sample_weight must be positive.")


def _stratification_message(y, classes, validation_fraction):
    """Why the stratified split of the class indices ``y`` cannot be made,
    in the user's labels (``classes``), and what to do instead.

    scikit-learn's own message names the indices (a class ``[3]`` that the
    user's labels do not have), and does not say that early stopping asked
    for the split."""
    counts = np.bincount(y)
    present = np.flatnonzero(counts)
    names = present if classes is None else np.asarray(classes)[present]
    single = names[counts[present] == 1]
    if len(single):
        reason = (
            f"the classes {single.tolist()} have a single row, which cannot "
            "be in both the training and the validation rows"
        )
        more = "more rows of those classes"
    else:
        n_rows = len(y)
        n_validation = math.ceil(validation_fraction * n_rows)
        reason = (
            f"the {n_validation} validation rows (validation_fraction="
            f"{validation_fraction} of {n_rows}) and the {n_rows - n_validation} "
            f"training rows must each hold a row of each of the {len(present)} "
            "classes"
        )
        more = "more rows"
    return (
        "early_stopping holds out a validation set stratified by class, and "
        f"{reason}. Give {more}, change validation_fraction, pass the "
        "validation data to fit (X_val, y_val), or set early_stopping=False."
    )


def check_validation_size(n_held_out):
    """Raise a ValueError if fewer than 2 rows are held out for early
    stopping (MLPClassifier's words), in memory or on a Dask cluster."""
    if n_held_out < 2:
        raise ValueError(
            "The validation set is too small. Increase "
            "'validation_fraction' or the size of your dataset."
        )


def check_some_rows(n_samples, shape):
    """Raise scikit-learn's ValueError of an empty ``X`` (``check_array``'s
    words) unless ``n_samples`` (rows of ``X`` of ``shape``) is positive:
    for a Dask collection, whose blocks scikit-learn checks one by one."""
    if n_samples == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={shape}) while a minimum of "
            "1 is required."
        )


def given_validation_data(model, X_val, y_val, sample_weight_val):
    """Whether ``fit`` was given its validation rows (``X_val`` and
    ``y_val``), checked as ``HistGradientBoostingClassifier`` checks them,
    in its words: both or neither, and only with early stopping, which they
    are for. ``sample_weight_val`` alone weighs nothing."""
    if X_val is None and y_val is None:
        if sample_weight_val is not None:
            raise ValueError(
                "sample_weight_val is provided, but X_val and y_val were not "
                "provided: the weights of validation rows need the rows."
            )
        return False
    if y_val is None:
        raise ValueError("X_val is provided, but y_val was not provided.")
    if X_val is None:
        raise ValueError("y_val is provided, but X_val was not provided.")
    if not model.early_stopping:
        raise ValueError(
            "X_val and y_val are passed to fit while at the same time "
            "early_stopping is False. When passing X_val and y_val to fit, "
            "early_stopping should be set to True."
        )
    return True


def validate_validation_data(model, X_val, y_val, sample_weight_val, dtype):
    """Validate ``fit``'s validation rows on ``model``, the view that
    :func:`validate_call` validated the training rows on: the same columns
    (and column names), targets of the same kind and of the training
    labels, non-negative weights of a positive sum. ``X_val`` is cast to
    ``dtype``, the training rows', so that the held-out predictions are
    computed as the training ones.

    Returns ``(X_val, y_val, sample_weight_val)``, ``y_val`` as the datafit
    takes it (as :func:`encode_labels` makes ``y``).
    """
    classifier = is_classifier(model)
    if not classifier:
        refuse_string_columns(y_val, "y_val")
    try:
        X_val, y_val = validate_input(
            model, X_val, y_val, reset=False, regression=not classifier
        )
    except ValueError as error:
        # scikit-learn's messages name the rows X and the targets y.
        raise ValueError(
            f"X_val or y_val is invalid (X and y below are X_val and y_val): {error}"
        ) from None
    if X_val.shape[0] < 2:
        # The bound of a split (check_validation_size), for the same reason:
        # R^2 is not defined on one row (a NaN score, of which no epoch is
        # the best), and one row's accuracy is 0 or 1.
        raise ValueError(
            f"The validation set is too small: X_val has {X_val.shape[0]} "
            "row, and early stopping scores at least 2."
        )
    X_val = cast_in_range(
        X_val, dtype, "X_val", "the dtype of X, in which the validation rows are scored"
    )
    if classifier:
        y_val = validation_labels(model, y_val)
    else:
        y_val = validation_targets(model, y_val, dtype)
    check_weights_castable(
        sample_weight_val,
        dtype,
        "sample_weight_val",
        X_val,
        prefix="sample_weight_val is invalid: ",
    )
    try:
        sample_weight_val = _check_sample_weight(
            sample_weight_val, X_val, dtype=dtype, ensure_non_negative=True
        )
    except ValueError as error:
        # scikit-learn's words name sample_weight: say which weights.
        raise ValueError(f"sample_weight_val is invalid: {error}") from None
    with np.errstate(over="ignore"):
        total = sample_weight_val.sum()
    if not np.isfinite(total):
        raise ValueError(
            f"sample_weight_val is out of range: its sum overflows {dtype} "
            "(only the weights' ratios matter: divide them all by the largest)."
        )
    if total <= 0:
        raise ValueError("The sum of sample_weight_val must be positive.")
    if np.count_nonzero(sample_weight_val) < 2:
        # One row to score, as an X_val of one row (above): R^2 was 0 at
        # every epoch, and the fit kept its first.
        raise ValueError(
            "The validation set is too small: sample_weight_val gives weight "
            f"to 1 of the {X_val.shape[0]} rows of X_val, and early stopping "
            "scores at least 2."
        )
    if not classifier:
        y_val = without_unweighed_targets(y_val, sample_weight_val)
        check_r2_in_range(y_val, sample_weight_val)
    return X_val, y_val, sample_weight_val


def validation_targets(model, y_val, dtype=None):
    """A regressor's ``y_val`` as the datafit takes it, checked against the
    training targets: as many outputs, and in the loss's range (and in
    ``dtype``'s)."""
    y_val = numeric_targets(y_val, "y_val", dtype)
    if y_val.shape[1] != model.n_outputs_:
        raise ValueError(
            f"y_val has {y_val.shape[1]} output(s) (columns), but y has "
            f"{model.n_outputs_}: the validation targets must be of the "
            "training outputs."
        )
    if model.out_activation_ == "exp" and (y_val < 0).any():
        raise ValueError(
            "Some value(s) of y_val are out of the valid range of the loss "
            "'HalfPoissonLoss'."
        )
    return y_val


def validation_labels(model, y_val):
    """A classifier's ``y_val`` as the datafit takes it (as
    :func:`encode_labels` makes ``y``), checked against the training
    labels."""
    try:
        check_classification_targets(y_val)
        multilabel = is_multilabel(y_val)
    except ValueError as error:
        # scikit-learn's words name the targets y, which are valid here.
        raise ValueError(f"y_val is invalid (y below is y_val): {error}") from None
    if multilabel != (model.out_activation_ == "logistic"):
        given, expected = (
            ("an indicator matrix of multilabel targets", "one label per row")
            if multilabel
            else ("one label per row", "an indicator matrix of multilabel targets")
        )
        raise ValueError(
            f"y_val is {given}, but y is {expected}: the validation targets "
            "must be of the same kind as the training ones."
        )
    if multilabel:
        if y_val.shape[1] != len(model.classes_):
            raise ValueError(
                f"y_val has {y_val.shape[1]} labels (columns), but y has "
                f"{len(model.classes_)}: the validation targets must have the "
                "training labels."
            )
        y_val = np.asarray(y_val, dtype=np.float64)
    else:
        unseen = np.setdiff1d(unique_labels(y_val), model.classes_)
        if len(unseen):
            raise ValueError(
                f"y_val has classes not in y: {unseen.tolist()}. The model "
                f"learns the classes of y, {model.classes_.tolist()}, and "
                "cannot be scored on others."
            )
        y_val = np.searchsorted(model.classes_, y_val)
    return y_val


def validation_split(train, rng, validation_fraction, classes=None):
    """Hold out ``validation_fraction`` of ``train = (X, y, sample_weight)``,
    stratified for one label per row (not for multilabel targets, as
    ``MLPClassifier``); returns the training and the validation triple.

    ``rng`` is the fit's generator, which drew the initial weights just
    before (the estimator says why in that order). ``classes`` are the
    labels that the indices of ``y`` stand for (a classifier's
    ``classes_``), which an impossible stratified split names."""
    y = train[1]
    # A classifier's labels are one index per row; a regressor's targets,
    # and multilabel ones, are matrices.
    stratify = y if y.ndim == 1 else None
    try:
        X, X_val, y, y_val, weight, weight_val = train_test_split(
            *train,
            random_state=rng,
            test_size=validation_fraction,
            stratify=stratify,
        )
    except ValueError as error:
        if stratify is None:
            # train_test_split's words name its own test_size and
            # train_size: say whose they are.
            raise ValueError(
                f"early_stopping cannot hold out validation_fraction="
                f"{validation_fraction} of {len(y)} row{'s' * (len(y) != 1)} "
                f"(train_test_split: {error}) Give more rows, change "
                "validation_fraction, pass the validation data to fit (X_val, "
                "y_val), or set early_stopping=False."
            ) from error
        raise ValueError(
            _stratification_message(y, classes, validation_fraction)
        ) from error
    check_validation_size(X_val.shape[0])
    for part, weights in (("training", weight), ("validation", weight_val)):
        check_split_weight(part, np.count_nonzero(weights), len(weights))
    return (X, y, weight), (X_val, y_val, weight_val)


def check_r2_in_range(y_val, sample_weight_val):
    """Refuse validation targets whose squared deviations from their mean
    overflow float64: R^2, which early stopping scores by, is NaN there.

    Targets of 1e160 among targets of unit scale were found only after the
    run, as "no epoch with a finite validation score", which blamed the
    predictions (they were finite) and X_val's scale.
    """
    weights = scaled_weights(sample_weight_val).astype(np.float64)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        mean = np.sum(weights * y_val, axis=0) / np.sum(weights)
        spread = np.sum(weights * (y_val - mean) ** 2, axis=0)
    if not np.all(np.isfinite(spread)):
        raise ValueError(
            "y_val is out of range for early stopping's score: the squares of "
            "its deviations from their mean overflow float64 (its largest "
            f"target is {np.max(np.abs(y_val)):.3g}), and R^2 is NaN. Scale "
            "the targets (TransformedTargetRegressor with a StandardScaler)."
        )


def check_validation_targets_vary(train, validation):
    """Refuse a regressor's validation rows whose targets are constant in an
    output where the training rows' vary: ``train`` and ``validation`` are
    ``(X, y, sample_weight)``, ``y`` a matrix of one column per output.

    R^2 is not defined on constant targets, as on one row: ``r2_score``
    gives 0 at every epoch, or rounding noise of 1e31 where their mean does
    not round exactly, and early stopping kept its first epoch (a training
    R^2 of -0.95), or an epoch chosen by the noise. An output constant in
    both parts has nothing to learn, and is let be.
    """
    outputs = np.flatnonzero(
        constant_outputs(*validation[1:]) & ~constant_outputs(*train[1:])
    )
    if outputs.size:
        which = "" if train[1].shape[1] == 1 else f" in output(s) {outputs.tolist()}"
        raise ValueError(
            f"The validation targets are constant{which} (on their rows of "
            "positive weight), where the training targets vary: R^2 is not "
            "defined on them (it is 0, or rounding noise, at every epoch), and "
            "early stopping would keep an epoch that nothing chose. Give "
            "validation rows whose targets vary (X_val, y_val), change "
            "validation_fraction or random_state, or set early_stopping=False."
        )


def check_split_weight(part, n_weighed, n_rows):
    """The ValueError of an early-stopping split whose ``part``
    (``'training'`` or ``'validation'``) of ``n_rows`` rows weighs nothing
    (``n_weighed``, the number of rows of positive weight, is 0), or whose
    validation rows weigh on one row only: in memory, and on a Dask cluster,
    whose held-out rows of weight 0 ended in a ZeroDivisionError after the
    first epoch.

    One weighed validation row is one row to score, which
    :func:`validation_data` refuses of ``X_val`` (R^2 was 0 at every epoch,
    and the fit kept its first).
    """
    if not n_weighed:
        raise ValueError(
            "early_stopping: the split of the data left the "
            f"{part} rows with no weight (sample_weight is zero on "
            f"all {n_rows} of them). Give weight to more rows, "
            "or change validation_fraction or random_state."
        )
    if part == "validation" and n_weighed < 2:
        raise ValueError(
            "The validation set is too small: the split of the data left "
            f"weight on 1 of its {n_rows} rows (sample_weight is zero on the "
            "others), and early stopping scores at least 2. Give weight to "
            "more rows, or change validation_fraction or random_state."
        )
