"""Write the intersphinx inventories in docs/inventories/ from installed packages.

Sphinx links a name such as :class:`~sklearn.pipeline.Pipeline` to another
project's documentation through that project's ``objects.inv``, which it
normally downloads. The build must work with no network, so the inventories
are kept in the repository. This script writes them from the public names of
the installed packages and the page layout each project's documentation uses
for them (for example scikit-learn documents ``sklearn.pipeline.Pipeline`` on
``modules/generated/sklearn.pipeline.Pipeline.html``). Run it again after an
upgrade that adds names the docs cite::

    PYTHONPATH=$PWD python docs/sphinxext/make_inventories.py

The files use Sphinx's inventory format version 2 and are read by
``intersphinx_mapping`` in conf.py.
"""

import importlib
import inspect
import sys
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "inventories"


def _public(module):
    """``__all__`` and the public classes and functions the module defines
    (``__all__`` can miss documented names, such as scikit-learn's
    InconsistentVersionWarning)."""
    defined = [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and getattr(obj, "__module__", None) == module.__name__
    ]
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name in vars(module) if not name.startswith("_")]
    names = list(dict.fromkeys([*names, *defined]))
    for name in names:
        try:
            obj = getattr(module, name)
        except (AttributeError, ImportError):
            continue
        if obj is not None and not inspect.ismodule(obj):
            yield name, obj


def _role(obj):
    if inspect.isclass(obj):
        return "py:exception" if issubclass(obj, BaseException) else "py:class"
    if callable(obj):
        return "py:function"
    return None


def _methods(cls):
    """Public methods and properties, inherited ones too: each project's
    class page lists those of its bases."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        member = inspect.getattr_static(cls, name)
        if isinstance(member, property):
            yield name, "py:property"
        elif callable(member) or isinstance(member, (classmethod, staticmethod)):
            yield name, "py:method"


def _per_name_pages(modules, page, module_page):
    """Entries for projects with one generated page per class or function.

    ``page(qualified_name)`` is the page of a class or function, whose methods
    are anchors on that page; ``module_page(module_name)`` that of a module.
    """
    entries = []
    for module_name in modules:
        module = importlib.import_module(module_name)
        entries.append((module_name, "py:module", module_page(module_name)))
        for name, obj in _public(module):
            role = _role(obj)
            if role is None:
                continue
            qualified = f"{module_name}.{name}"
            uri = page(qualified)
            entries.append((qualified, role, f"{uri}#{qualified}"))
            if inspect.isclass(obj):
                for method, kind in _methods(obj):
                    entries.append(
                        (f"{qualified}.{method}", kind, f"{uri}#{qualified}.{method}")
                    )
    return entries


def sklearn_entries():
    import sklearn

    # Experimental names are importable, and documented, once enabled.
    importlib.import_module("sklearn.experimental.enable_halving_search_cv")
    importlib.import_module("sklearn.experimental.enable_iterative_imputer")

    modules = ["sklearn"] + [
        f"sklearn.{name}"
        for name in sklearn.__all__
        if inspect.ismodule(getattr(sklearn, name, None))
        or importlib.util.find_spec(f"sklearn.{name}") is not None
    ]
    modules = [m for m in modules if m not in ("sklearn.externals",)]
    entries = _per_name_pages(
        modules,
        lambda name: f"modules/generated/{name}.html",
        lambda name: f"api/{name}.html" if name != "sklearn" else "api/index.html",
    )
    # The user-guide sections that the docstrings of the inherited methods
    # (score, get_metadata_routing) cite with :ref:.
    entries += [
        ("accuracy_score", "std:label", "modules/model_evaluation.html#accuracy-score"),
        ("r2_score", "std:label", "modules/model_evaluation.html#r2-score"),
        ("metadata_routing", "std:label", "metadata_routing.html#metadata-routing"),
    ]
    return entries


def numpy_entries():
    import numpy

    entries = []
    for module_name in ["numpy", "numpy.linalg", "numpy.testing"]:
        module = importlib.import_module(module_name)
        for name, obj in _public(module):
            qualified = f"{module_name}.{name}"
            if inspect.isclass(obj) and issubclass(obj, numpy.generic):
                # Scalar types share one page.
                uri = f"reference/arrays.scalars.html#{qualified}"
                entries.append((qualified, "py:class", uri))
                continue
            role = _role(obj)
            if role is None:
                continue
            uri = f"reference/generated/{qualified}.html"
            entries.append((qualified, role, f"{uri}#{qualified}"))
            if obj in (numpy.ndarray, numpy.memmap):
                for method, kind in _methods(obj):
                    entries.append(
                        (
                            f"{qualified}.{method}",
                            kind,
                            f"reference/generated/{qualified}.{method}.html"
                            f"#{qualified}.{method}",
                        )
                    )
    random = "reference/random/"
    entries += [
        ("numpy", "py:module", "reference/index.html#module-numpy"),
        ("numpy.random", "py:module", f"{random}index.html#module-numpy.random"),
        ("numpy.random.default_rng", "py:function", f"{random}generator.html#$"),
        ("numpy.random.Generator", "py:class", f"{random}generator.html#$"),
        ("numpy.random.RandomState", "py:class", f"{random}legacy.html#$"),
    ]
    return entries


def scipy_entries():
    return _per_name_pages(
        ["scipy.special", "scipy.optimize", "scipy.sparse", "scipy.linalg"],
        lambda name: f"reference/generated/{name}.html",
        lambda name: f"reference/{name.split('.', 1)[1]}.html",
    )


def joblib_entries():
    return _per_name_pages(
        ["joblib"],
        lambda name: f"generated/{name}.html",
        lambda name: "index.html",
    )


def matplotlib_entries():
    import matplotlib.pyplot as plt

    entries = _per_name_pages(
        ["matplotlib.pyplot"],
        lambda name: f"api/_as_gen/{name}.html",
        lambda name: "api/pyplot_summary.html",
    )
    # Axes and Figure have a page for each method.
    for qualified, cls in [
        ("matplotlib.axes.Axes", plt.Axes),
        ("matplotlib.figure.Figure", plt.Figure),
    ]:
        page = "api/axes_api.html" if cls is plt.Axes else "api/figure_api.html"
        entries.append((qualified, "py:class", f"{page}#{qualified}"))
        for method, kind in _methods(cls):
            name = f"{qualified}.{method}"
            entries.append((name, kind, f"api/_as_gen/{name}.html#{name}"))
    return entries


def python_entries():
    import builtins

    entries = []
    for name, obj in vars(builtins).items():
        if name.startswith("_"):
            continue
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            entries.append((name, "py:exception", "library/exceptions.html#$"))
        elif inspect.isclass(obj) or inspect.isbuiltin(obj):
            entries.append((name, _role(obj), "library/functions.html#$"))
    for module_name in [
        "copy",
        "doctest",
        "os",
        "os.path",
        "pathlib",
        "pickle",
        "tempfile",
        "threading",
        "time",
        "tracemalloc",
        "warnings",
    ]:
        module = importlib.import_module(module_name)
        page = f"library/{module_name}.html"
        entries.append((module_name, "py:module", f"{page}#module-{module_name}"))
        for name, obj in _public(module):
            if getattr(obj, "__module__", module_name).split(".")[0] not in (
                module_name.split(".")[0],
                "posixpath",
                "_thread",
                "_tracemalloc",
                "_pickle",
                "_warnings",
                "nt",
                "posix",
            ):
                continue
            role = _role(obj)
            if role is not None:
                entries.append((f"{module_name}.{name}", role, f"{page}#$"))
    return entries


PROJECTS = {
    "python": ("Python", python_entries, lambda: sys.version.split()[0]),
    "numpy": (
        "NumPy",
        numpy_entries,
        lambda: importlib.import_module("numpy").__version__,
    ),
    "scipy": (
        "SciPy",
        scipy_entries,
        lambda: importlib.import_module("scipy").__version__,
    ),
    "sklearn": (
        "scikit-learn",
        sklearn_entries,
        lambda: importlib.import_module("sklearn").__version__,
    ),
    "joblib": (
        "joblib",
        joblib_entries,
        lambda: importlib.import_module("joblib").__version__,
    ),
    "matplotlib": (
        "Matplotlib",
        matplotlib_entries,
        lambda: importlib.import_module("matplotlib").__version__,
    ),
}


def write_inventory(path, project, version, entries):
    lines = []
    for name, role, uri in sorted(set(entries)):
        if uri.endswith(f"#{name}"):
            uri = uri[: -len(name)] + "$"
        # Labels need a title; "-" stands for the name itself.
        title = name.replace("_", " ").capitalize() if role == "std:label" else "-"
        priority = -1 if role == "std:label" else 1
        lines.append(f"{name} {role} {priority} {uri} {title}\n")
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    path.write_bytes(header.encode() + zlib.compress("".join(lines).encode(), 9))


def main():
    OUT.mkdir(exist_ok=True)
    for key, (project, entries, version) in PROJECTS.items():
        write_inventory(OUT / f"{key}.inv", project, version(), entries())
        print(f"wrote {OUT / f'{key}.inv'}")


if __name__ == "__main__":
    main()
