"""The suite's warning filters (pyproject.toml): a FutureWarning or DeprecationWarning is an error,
whether sdft raises it or a library raises it on a call from sdft."""

from __future__ import annotations

import warnings

import pytest

LIBRARY = """
import warnings

def old_api():
    warnings.warn("`old_api` is deprecated, use `new_api`", FutureWarning)  # attributed to the library
"""

SDFT = """
import warnings

def own_deprecation():
    warnings.warn("this sdft function is deprecated", DeprecationWarning)

def calls_library(lib):
    return lib["old_api"]()
"""


def _module(name: str, source: str) -> dict:
    """Globals of a module called ``name`` (warnings are attributed by the frame's ``__name__``)."""
    ns = {"__name__": name}
    exec(compile(source, f"<{name}>", "exec"), ns)
    return ns


def test_a_deprecation_raised_by_sdft_code_fails_the_test():
    sdft = _module("sdft.some_stage", SDFT)
    with pytest.raises(DeprecationWarning, match="sdft function is deprecated"):
        sdft["own_deprecation"]()


def test_a_library_deprecation_reached_from_sdft_fails_the_test():
    lib, sdft = _module("somelib.modeling", LIBRARY), _module("sdft.some_stage", SDFT)
    with pytest.raises(FutureWarning, match="old_api"):
        sdft["calls_library"](lib)


def test_a_filter_on_the_sdft_module_alone_would_miss_the_library_deprecation():
    """Why pyproject.toml does not write ``error::FutureWarning:sdft``."""
    lib, sdft = _module("somelib.modeling", LIBRARY), _module("sdft.some_stage", SDFT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.filterwarnings("error", category=FutureWarning, module="sdft")
        sdft["calls_library"](lib)  # recorded, not raised
    assert [str(w.message) for w in caught] == ["`old_api` is deprecated, use `new_api`"]
