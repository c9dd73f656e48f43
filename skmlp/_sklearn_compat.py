"""The private parts of scikit-learn that skmlp uses, imported in one place.

scikit-learn's public API has no counterpart for these: the parameter
validation of estimators (``_fit_context``, ``Interval``, ``StrOptions``,
``Options``, ``HasMethods``, ``validate_params``), the checks shared by its
own classifiers (``_check_partial_fit_first_call``, ``_check_sample_weight``),
the style checks of its displays (``_validate_style_kwargs``) and the
callback API of scikit-learn 1.9 (``CallbackSupportMixin``, None before it).
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
from sklearn.utils.validation import _check_sample_weight

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9 has no callback API.
    CallbackSupportMixin = None

__all__ = [
    "CallbackSupportMixin",
    "HasMethods",
    "Interval",
    "Options",
    "StrOptions",
    "_check_partial_fit_first_call",
    "_check_sample_weight",
    "_fit_context",
    "_validate_style_kwargs",
    "validate_params",
]
