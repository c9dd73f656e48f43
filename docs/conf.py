"""Sphinx configuration of the skmlp documentation.

Build with the command in BUILD.txt. The example gallery runs every
``examples/plot_*.py`` script and the build runs the quick start's doctests,
so a build also checks that they all work.
"""

import doctest
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
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    # Some pages (performance, solver measurements) are Markdown.
    "myst_parser",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "BUILD.txt"]
root_doc = "index"

# API reference: one page per public name, written by autosummary into
# generated/ (git-ignored). numpydoc's own member tables are off because the
# class template lists the members.
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
# Members of scikit-learn's mixins (get_params, score, ...) and the
# set_*_request methods scikit-learn generates for metadata routing are left
# out: their docstrings cross-reference scikit-learn's own glossary and labels.
autodoc_default_options = {
    "members": True,
    "exclude-members": "set_fit_request,set_partial_fit_request,set_score_request",
}

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

html_theme = "pydata_sphinx_theme"
html_title = f"skmlp {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_sidebars = {"quick_start": [], "user_guide": []}


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


def setup(app):
    app.connect("builder-inited", check_api_reference)
    app.connect("builder-inited", check_quick_start)
