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
    """The deep formal proofs (marker ``formal``) run only when a ``-m`` expression names
    them (``python -m pytest -m formal``): they take far longer than the rest of the suite,
    and a plain ``-m "not build"`` must not pull them in."""
    if "formal" in (config.option.markexpr or ""):
        return
    deep = [item for item in items if item.get_closest_marker("formal")]
    if deep:
        config.hook.pytest_deselected(items=deep)
        items[:] = [item for item in items if not item.get_closest_marker("formal")]
