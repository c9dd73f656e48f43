"""Warnings that point at the user's line, however deep the call chain."""

import os
import sys
import sysconfig
import warnings

import joblib
import sklearn


def library_paths(packages, files=()):
    """The paths of the code between the user and a warning, for
    :func:`warn_at_user_code`: the folders of ``packages`` and the files of
    the single-file modules ``files``, as imported and with links resolved
    (a frame's file name is the path it was imported by)."""
    paths = set()
    for resolve in (os.path.abspath, os.path.realpath):
        paths.update(
            os.path.join(resolve(os.path.dirname(package.__file__)), "")
            for package in packages
        )
        paths.update(resolve(module.__file__) for module in files)
    return tuple(paths)


# The libraries between the user and a fit: skmlp itself, scikit-learn
# (Pipeline, GridSearchCV, cross_validate) and joblib (through which
# scikit-learn's tools call a fit, even with n_jobs=1).
_FIT_LIBRARIES = library_paths((sys.modules[__package__], sklearn, joblib))
_OWN = library_paths((sys.modules[__package__],))

# The standard library's folders, without the site-packages inside them
# (where a Python that is not a virtual environment installs packages): a
# thread's or a worker process's start, below which no user frame is.
_SYSTEM = tuple(
    os.path.join(path, "")
    for path in {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib")}
)
_SITE = tuple(
    os.path.join(path, "")
    for path in {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
)


def warn_at_user_code(message, category=None, libraries=_FIT_LIBRARIES):
    """``warnings.warn`` pointing at the first frame outside ``libraries``.

    With the default libraries that is the user's call of ``fit`` or
    ``partial_fit``, or of the scikit-learn tool that called them, so that
    the warning names a line the user wrote and a filter on the user's
    module applies to it. In a thread or a worker process that a library
    started (joblib's, for ``cross_validate(n_jobs=2)``), no user frame is
    on the stack: the warning names the library's call of skmlp instead.

    Parameters
    ----------
    message : str or Warning
        The warning's text, or a warning instance.
    category : type, default=None
        The warning's class (None for a warning instance).
    libraries : tuple of str, default: skmlp, scikit-learn and joblib
        The paths of :func:`library_paths` whose frames are passed over.
    """
    frame, stacklevel = sys._getframe(1), 2
    # The first frame that is not skmlp's: the library's call of fit (a
    # scikit-learn tool's, a Pipeline's), named where no user frame is on
    # the stack.
    caller = None
    while frame.f_back is not None and frame.f_code.co_filename.startswith(libraries):
        if caller is None and not frame.f_code.co_filename.startswith(_OWN):
            caller = stacklevel
        frame, stacklevel = frame.f_back, stacklevel + 1
    path = frame.f_code.co_filename
    if caller is not None and path.startswith(_SYSTEM) and not path.startswith(_SITE):
        # A thread or a worker process that a library started (joblib's,
        # for cross_validate with n_jobs=2): the frame reached is its start
        # in the standard library (multiprocessing/process.py), which said
        # nothing of where the fit came from. MLPClassifier's warning names
        # its own file there.
        stacklevel = caller
    warnings.warn(message, category, stacklevel=stacklevel)
