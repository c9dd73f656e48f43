"""The order of the example gallery: the solver study first, then by name."""

from pathlib import Path

from sphinx_gallery.sorting import FileNameSortKey

FIRST = ("plot_solver_study.py",)


class StudyFirst(FileNameSortKey):
    """Sort key: the examples of ``FIRST`` in that order, then by file name."""

    def __call__(self, filename):
        name = Path(filename).name
        rank = FIRST.index(name) if name in FIRST else len(FIRST)
        return f"{rank:03d}{name}"
