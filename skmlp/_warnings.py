"""Warnings that point at the user's line, however deep the call chain."""

import os
import sys
import warnings

import joblib
import sklearn

# The folders of the libraries between the user and a fit: skmlp itself,
# scikit-learn (Pipeline, GridSearchCV, cross_validate) and joblib (through
# which scikit-learn's tools call a fit, even with n_jobs=1), as imported and
# with links resolved.
_LIBRARIES = tuple(
    {
        os.path.join(folder(os.path.dirname(module.__file__)), "")
        for module in (sys.modules[__package__], sklearn, joblib)
        for folder in (os.path.abspath, os.path.realpath)
    }
)


def warn_at_user_code(message, category):
    """``warnings.warn`` pointing at the first frame outside the libraries.

    That is the user's call of ``fit`` or ``partial_fit``, or of the
    scikit-learn tool that called them, so that the warning names a line
    the user wrote and a filter on the user's module applies to it.

    Parameters
    ----------
    message : str
        The warning's text.
    category : type
        The warning's class.
    """
    frame, stacklevel = sys._getframe(1), 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_LIBRARIES):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, category, stacklevel=stacklevel)
