"""The private parts of scikit-learn that skmlp uses, imported in one place.

scikit-learn's public API has no counterpart for these: the parameter
validation of estimators (``_fit_context``, ``Interval``, ``StrOptions``,
``Options``, ``HasMethods``, ``validate_params``), the checks shared by its
own classifiers (``_check_partial_fit_first_call``, ``_check_sample_weight``),
the rule by which ``check_array`` converts pandas columns of nullable dtypes
first (``_pandas_dtype_needs_early_conversion``, for Dask DataFrames),
the style checks of its displays (``_validate_style_kwargs``) and the
callback API of scikit-learn 1.9 (``CallbackSupportMixin``, None before it,
and the attributes through which it finds an estimator's callbacks).
A change in any of them in a new scikit-learn release breaks this module
alone, and the tests on the oldest and newest supported versions show it.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_params,
)
from sklearn.utils._plotting import _validate_style_kwargs
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.validation import (
    _check_sample_weight,
    _pandas_dtype_needs_early_conversion,
)

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9 has no callback API.
    CallbackSupportMixin = None


def add_callback_support(cls):
    """Give the estimator class ``cls`` the methods of
    ``CallbackSupportMixin`` that scikit-learn's callbacks and
    meta-estimators use, if this scikit-learn has them."""
    if CallbackSupportMixin is not None:
        cls.set_callbacks = CallbackSupportMixin.set_callbacks
        cls._init_callback_context = CallbackSupportMixin._init_callback_context


def validate_parameters(estimator):
    """Check ``estimator``'s parameters against its
    ``_parameter_constraints``, as ``fit`` does (through ``_fit_context``),
    for a function that takes an unfitted estimator without fitting it."""
    estimator._validate_params()


def open_callback_context(estimator, max_subtasks):
    """Open the callback context of a fit of ``estimator``, or return None.

    None when scikit-learn has no callback API, or when the estimator has
    no callback and no meta-estimator's context to report to: the task
    bookkeeping is then skipped.
    """
    if not hasattr(estimator, "_init_callback_context") or not (
        getattr(estimator, "_skl_callbacks", None)
        or hasattr(estimator, "_parent_callback_ctx")
    ):
        return None
    return estimator._init_callback_context(max_subtasks=max_subtasks)


__all__ = [
    "add_callback_support",
    "open_callback_context",
    "CallbackSupportMixin",
    "HasMethods",
    "Interval",
    "Options",
    "StrOptions",
    "_check_partial_fit_first_call",
    "_check_sample_weight",
    "_fit_context",
    "_pandas_dtype_needs_early_conversion",
    "_validate_style_kwargs",
    "validate_params",
    "validate_parameters",
]
