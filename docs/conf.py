"""Sphinx configuration of the skmlp documentation.

Build with the command in BUILD.txt. The example gallery runs every
``examples/plot_*.py`` script and the build runs the quick start's doctests,
so a build also checks that they all work.
"""

import doctest
import importlib.util
import re
import sys
from pathlib import Path

from sphinx.util import logging

import skmlp

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "sphinxext"))

project = "skmlp"
author = "The skmlp developers"
copyright = "The skmlp developers"
version = release = skmlp.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "matplotlib.sphinxext.plot_directive",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    # Some pages (performance, solver measurements) are Markdown.
    "myst_parser",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "BUILD.txt"]
root_doc = "index"

# Names of scikit-learn, NumPy, joblib, ... link to their projects' pages.
# The inventories are kept in inventories/ so that the build needs no network;
# sphinxext/make_inventories.py writes them from the installed packages.
intersphinx_mapping = {
    name: (url, str(DOCS / "inventories" / f"{name}.inv"))
    for name, url in {
        "python": "https://docs.python.org/3/",
        "numpy": "https://numpy.org/doc/stable/",
        "scipy": "https://docs.scipy.org/doc/scipy/",
        "sklearn": "https://scikit-learn.org/stable/",
        "joblib": "https://joblib.readthedocs.io/en/stable/",
        "matplotlib": "https://matplotlib.org/stable/",
    }.items()
}

# API reference: one page per public name, written by autosummary into
# generated/ (git-ignored). numpydoc's own member tables are off because the
# class template lists the members.
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
# The estimator's page lists the methods it inherits from scikit-learn too
# (score, get_params, set_params; templates/estimator.rst). The
# set_*_request methods scikit-learn generates for metadata routing are left
# out: one per method, they say nothing particular to skmlp.
autodoc_default_options = {
    "members": True,
    "exclude-members": "set_fit_request,set_partial_fit_request,set_score_request",
}

# The quick start's code runs in plot directives (and as doctests, see
# check_quick_start), which show the code and then the figure it draws.
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 96)]
# The quick start saves a model into skmlp-output/ (git-ignored) of the
# folder the build runs in, as the doctest run does.
plot_working_directory = "."

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.StudyFirst",
    "doc_module": ("skmlp",),
    "backreferences_dir": "gen_modules/backreferences",
    # The examples print their numbers; show them under the code.
    "capture_repr": ("_repr_html_",),
    "min_reported_time": 1,
    # The build prints each example's run time; no page for them, so that
    # the build writes nothing outside its git-ignored folders.
    "write_computation_times": False,
}

# MathJax is served from the site itself, so that the formulas typeset when
# index.html is opened from disk with no network, and on a web server alike.
# The files come from the sphinx-mathjax-offline package (MathJax 3.2.2, the
# docs extra); its folder name is not an identifier, so it is located rather
# than imported. The SVG output draws glyphs from paths inside the script:
# the CHTML output would load web fonts, which browsers refuse to read from
# file:// pages.
_MATHJAX = importlib.util.find_spec("sphinx-mathjax-offline")
mathjax_path = "mathjax/tex-svg.js"
html_static_path = ["_static", str(Path(_MATHJAX.origin).parent / "static")]
html_css_files = ["skmlp.css"]

html_theme = "pydata_sphinx_theme"
html_title = f"skmlp {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    # Every page of the top bar stays in it rather than under "More".
    "header_links_before_dropdown": 8,
    # The search box as an icon, so that the links and it share one row.
    "navbar_persistent": ["search-button"],
    # The examples' code is up to 88 columns wide: their pages give the
    # right-hand column to it rather than to a table of contents.
    # ("*" does not reach into folders, so no page matches two patterns.)
    "secondary_sidebar_items": {
        "*": ["page-toc", "sourcelink"],
        "generated/*": ["page-toc", "sourcelink"],
        "auto_examples/*": [],
    },
}
# Pages without sub-pages get no left sidebar (it would be an empty
# "Section Navigation" box); the API reference and the gallery keep theirs.
html_sidebars = {
    page: []
    for page in (
        "index",
        "quick_start",
        "user_guide",
        "solver_measurements",
        "export",
        "scaling_out",
        "performance",
    )
}


def check_api_reference(app):
    """Warn (an error with -W) when api.rst misses a name of skmlp.__all__."""
    listed = set(re.findall(r"^ {3}(\w+)$", (DOCS / "api.rst").read_text(), re.M))
    missing = sorted(set(skmlp.__all__) - listed - {"__version__"})
    if missing:
        logging.getLogger(__name__).warning(
            "docs/api.rst does not list these public names of skmlp: %s",
            ", ".join(missing),
        )


def check_quick_start(app):
    """Run the quick start's examples; warn (an error with -W) if one fails."""
    failures, _ = doctest.testfile(
        str(DOCS / "quick_start.rst"),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    if failures:
        logging.getLogger(__name__).warning(
            "docs/quick_start.rst: %d doctest examples failed (printed above)",
            failures,
        )


def note_set_callbacks_version(app, what, name, obj, options, lines):
    """Say on the API page that set_callbacks needs scikit-learn 1.9.

    The method and its docstring are scikit-learn's, copied onto the
    estimator only where sklearn.callback exists.
    """
    if name == "skmlp.SoftplusMLPClassifier.set_callbacks":
        lines += [
            "",
            ".. note::",
            "",
            "   Present with scikit-learn 1.9 or later only: it comes from",
            "   :class:`sklearn.callback.CallbackSupportMixin`. See",
            "   :ref:`scaling_out` for the callbacks it takes.",
        ]


def setup(app):
    app.connect("autodoc-process-docstring", note_set_callbacks_version)
    app.connect("builder-inited", check_api_reference)
    app.connect("builder-inited", check_quick_start)
