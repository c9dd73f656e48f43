"""What a saved estimator holds: the skmlp version, and plain values only.

``SoftplusMLPClassifier.__getstate__`` and ``__setstate__`` call the two
functions here; pickle, joblib and skops all go through them.

* The state records the skmlp version that saved it; loading it with another
  version warns with :class:`InconsistentVersionWarning`, as scikit-learn
  does for its own estimators.
* The solver object (kept between ``partial_fit`` calls for NAG's momentum)
  is saved as its name and its attributes, plain floats and arrays, and so
  is the step rule among them, so that a skops file holds no type that skops
  does not know but the estimator's own class.
* A model saved before the step rules were classes (up to commit 1ff78b6)
  holds its solver's rule as a dict under ``step_size``, whose ``"rule"``
  key names it: it is converted to the rule's class on load, and goes on
  exactly as it would have.
* The callback bookkeeping of a fit under way (scikit-learn's
  ``_callback_fit_ctx`` and ``_skl_callbacks_to_teardown``, which it deletes
  when the fit ends) is left out. An estimator holds them only during a fit,
  so only a copy taken then would carry them: the model of an epoch that
  scikit-learn hands to the callbacks (a ``copy.copy``, which goes through
  ``__getstate__`` too), or one saved by a callback. A later call on such a
  copy would otherwise tear down, at its end, callbacks that it never set
  up.
"""

import copyreg
import pickle
import sys

import joblib
from sklearn import exceptions

from ._solvers.adaptive_step import AdaptiveStep
from ._solvers.first_order import SOLVER_CLASSES
from ._solvers.step_size import Backtracking, FixedStep
from ._warnings import library_paths, warn_at_user_code

# The classes a saved solver and its step rule may be rebuilt as, by name:
# the file chooses which of them, never an arbitrary class.
_SOLVERS = {cls.__name__: cls for cls in SOLVER_CLASSES}
_STEP_RULES = {cls.__name__: cls for cls in (FixedStep, Backtracking, AdaptiveStep)}

# The step rules of a model saved up to 1ff78b6, by the "rule" key of its
# ``step_size`` dict, and the attributes its other keys became.
_SAVED_RULES = {
    "fixed": "FixedStep",
    "backtracking": "Backtracking",
    "adaptive": "AdaptiveStep",
}
_RENAMED = {"remeasure": "must_remeasure"}

_VERSION_KEY = "_skmlp_version"

# The version assumed for a state saved before skmlp recorded its version.
_UNKNOWN_VERSION = "unknown"

# What scikit-learn's callback API keeps on an estimator while it is fitted,
# which a checkpoint copied during the fit holds too. A meta-estimator's
# context (``_parent_callback_ctx``, which a Pipeline sets on its last step)
# holds the meta-estimator's whole task tree: skops's dump of such a
# checkpoint recursed without end, its pickle grew with every epoch, and a
# later call filed its tasks under the finished Pipeline's (with a progress
# bar there, whose setup it then skipped, partial_fit failed).
_FIT_UNDER_WAY = (
    "_callback_fit_ctx",
    "_skl_callbacks_to_teardown",
    "_parent_callback_ctx",
)


class InconsistentVersionWarning(exceptions.InconsistentVersionWarning):
    """Warning raised when a model saved by another skmlp version is loaded.

    Unpickling (or loading with skops) a model saved by another skmlp version
    is not supported: the model may give wrong results or fail. Refit it with
    the installed version where possible.

    A subclass of scikit-learn's warning of the same name, so that a filter
    or a handler written for scikit-learn's catches this one too.

    Parameters
    ----------
    estimator_name : str
        Name of the estimator class.

    current_version : str
        The installed skmlp version.

    original_version : str
        The skmlp version that saved the model.

    Attributes
    ----------
    current_version, original_version : str
        The parameters.

    current_sklearn_version, original_sklearn_version : str
        The same two skmlp versions, under the names of scikit-learn's
        warning, for a handler written for it. scikit-learn records and
        checks its own version only in the state of its own estimators
        (the scaler of a Pipeline, say), and warns of them with its own
        class; a skmlp model's state is of skmlp's making, and skmlp's
        version is the one checked for it.

    See Also
    --------
    sklearn.exceptions.InconsistentVersionWarning : The same warning for
        scikit-learn's version.

    Examples
    --------
    Refuse models saved by another version, with scikit-learn's class (a
    filter for it catches this one):

    >>> import warnings
    >>> from sklearn.exceptions import InconsistentVersionWarning as Sklearn
    >>> from skmlp import InconsistentVersionWarning
    >>> issubclass(InconsistentVersionWarning, Sklearn)
    True
    >>> warning = InconsistentVersionWarning(
    ...     estimator_name="SoftplusMLPClassifier",
    ...     current_version="0.2", original_version="0.1")
    >>> (warning.original_sklearn_version, warning.current_sklearn_version)
    ('0.1', '0.2')
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", Sklearn)
    ...     try:
    ...         warnings.warn(warning)
    ...     except Sklearn as caught:
    ...         print(type(caught).__name__)
    InconsistentVersionWarning
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        super().__init__(
            estimator_name=estimator_name,
            current_sklearn_version=current_version,
            original_sklearn_version=original_version,
        )
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self):
        return (
            f"Trying to unpickle estimator {self.estimator_name} from skmlp "
            f"version {self.original_version} when using skmlp version "
            f"{self.current_version}. This might lead to breaking code or "
            "invalid results. Use at your own risk; refitting the model with "
            "this version is safer."
        )


def saved_state(state):
    """The state to save, from ``BaseEstimator.__getstate__``'s.

    Parameters
    ----------
    state : dict
        The estimator's state. Not modified.

    Returns
    -------
    state : dict
        A new dict: ``state`` with the skmlp version, without the callback
        bookkeeping of a fit under way, and with the solver object (if any)
        replaced by ``{"class": ..., "attributes": {...}}``.
    """
    state = {
        **{name: value for name, value in state.items() if name not in _FIT_UNDER_WAY},
        _VERSION_KEY: _current_version(),
    }
    solver = state.get("_solver")
    if solver is not None:
        state["_solver"] = _saved_object(solver)
        rule = getattr(solver, "step_rule", None)
        if rule is not None:
            state["_solver"]["attributes"]["step_rule"] = _saved_object(rule)
    return state


def _saved_object(instance):
    """``{"class": its class name, "attributes": a copy of its vars}``."""
    return {"class": type(instance).__name__, "attributes": dict(vars(instance))}


def loaded_state(estimator, state):
    """The state to give to ``BaseEstimator.__setstate__``, from a saved one.

    Warns with :class:`InconsistentVersionWarning` if ``state`` was saved by
    another skmlp version, and rebuilds the solver object.

    Parameters
    ----------
    estimator : SoftplusMLPClassifier
        The instance being loaded (only its class name is used).
    state : dict
        The saved state. Not modified.

    Returns
    -------
    state : dict
        A new dict without the version, with the solver object rebuilt.
    """
    state = dict(state)
    version = state.pop(_VERSION_KEY, _UNKNOWN_VERSION)
    current = _current_version()
    if version != current:
        warn_at_user_code(
            InconsistentVersionWarning(
                estimator_name=type(estimator).__name__,
                current_version=current,
                original_version=version,
            ),
            libraries=_loaders(),
        )
    saved = state.get("_solver")
    if isinstance(saved, dict):
        solver = state["_solver"] = _rebuilt(estimator, saved, _SOLVERS, "solver")
        attributes = vars(solver)
        if "step_size" in attributes:
            attributes["step_rule"] = _saved_by_1ff78b6(
                attributes.pop("step_size"), solver
            )
        if isinstance(attributes.get("step_rule"), dict):
            attributes["step_rule"] = _rebuilt(
                estimator, attributes["step_rule"], _STEP_RULES, "step rule"
            )
    return state


def _rebuilt(estimator, saved, classes, kind):
    """The instance of ``classes`` that ``saved`` (from :func:`_saved_object`)
    names, with its attributes (a copy of the saved dict)."""
    cls = classes.get(saved.get("class"))
    if cls is None or not isinstance(saved.get("attributes"), dict):
        raise ValueError(
            f"The saved {type(estimator).__name__} is damaged: its {kind} "
            f"is saved as class {saved.get('class')!r}, which is none of "
            f"the {kind}s skmlp rebuilds ({', '.join(sorted(classes))}), "
            "or without its attributes. The file was edited or not written "
            "by skmlp."
        )
    instance = cls.__new__(cls)
    vars(instance).update(saved["attributes"])
    return instance


def _saved_by_1ff78b6(step_size, solver):
    """A step rule saved up to 1ff78b6, as a ``step_size`` dict, in the form
    :func:`_saved_object` saves it now.

    The dict's keys are the rule's attributes (one renamed), but for
    ``"rule"``, which names the rule; the adaptive rule's ``c``, which the
    solver then gave it at each step, is the solver's.
    """
    attributes = {
        _RENAMED.get(key, key): value
        for key, value in step_size.items()
        if key != "rule"
    }
    name = _SAVED_RULES.get(step_size.get("rule"))
    if name == "AdaptiveStep":
        attributes["curvature_factor"] = solver.curvature_factor
    return {"class": name, "attributes": attributes}


def _loaders():
    """The code between the user's line that loads a model and
    :func:`loaded_state`: skmlp, joblib, skops if it is in use, and pickle's
    own modules, for ``warn_at_user_code``."""
    packages = [sys.modules[__package__], joblib]
    if "skops" in sys.modules:
        packages.append(sys.modules["skops"])
    return library_paths(packages, files=(pickle, copyreg))


def _current_version():
    # Imported here, not at the top: skmlp/__init__.py imports the estimator
    # module, which imports this one, before it defines __version__.
    from . import __version__

    return __version__
