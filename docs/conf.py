"""Sphinx configuration of the skimb documentation."""

import os
import warnings

import skimb

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

project = "skimb"
author = "The skimb developers"
copyright = "2026, The skimb developers"
version = release = skimb.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    # The examples run side by side, one per core (joblib).
    "parallel": os.cpu_count() or 1,
}
if sphinx_gallery_conf["parallel"] > 1:
    # One TensorFlow thread per example process, as one runs per core: each
    # process's own pools of one thread per core oversubscribed the cores (two
    # pairs of examples side by side on 2 cores: 58 and 106 s against 70 and
    # 139 s; the test suite, of tiny networks, gained nothing measurable).
    # The example processes, started after this, inherit it; a caller's own
    # setting wins.
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(name, "1")

html_theme = "pydata_sphinx_theme"
html_title = "skimb"
html_theme_options = {"navigation_with_keys": False}
exclude_patterns = ["_build"]
templates_path = ["_templates"]

# Matplotlib in the gallery draws without a display.
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", category=UserWarning, message=".*non-GUI backend.*")

# Methods that members inherit from Keras carry Keras' own (Markdown)
# docstrings, which are not reStructuredText.
autodoc_inherit_docstrings = False


def _skip_metadata_requests(app, what, name, obj, skip, options):
    # scikit-learn generates ``set_*_request`` methods for metadata routing;
    # their docstrings point into scikit-learn's own glossary.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
