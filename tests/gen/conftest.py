import pytest


def pytest_collection_modifyitems(config, items):
    """The long cocotb runs (``cocotb_full``: 10,000 vectors each, several minutes) run
    only when the marker expression names them: ``python -m pytest -m cocotb_full``."""
    if "cocotb_full" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="10,000-vector cocotb run: select it with -m cocotb_full")
    for item in items:
        if "cocotb_full" in item.keywords:
            item.add_marker(skip)
