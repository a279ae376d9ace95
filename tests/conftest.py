import pytest


@pytest.fixture(scope="session", autouse=True)
def madvq_cache(tmp_path_factory):
    """Every Verilator model the suite builds goes to a cache of its own, so that a run
    compiles what it tests (nothing stale from earlier runs) and leaves the user's cache
    alone. Models are still shared between the tests of one run."""
    path = tmp_path_factory.mktemp("madvq-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MADVQ_CACHE_DIR", str(path))
        yield path


def pytest_collection_modifyitems(config, items):
    """Tests marked ``deep`` run only when asked for by name (``-m deep``)."""
    if "deep" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="a deep run: select it with -m deep")
    for item in items:
        if "deep" in item.keywords:
            item.add_marker(skip)
