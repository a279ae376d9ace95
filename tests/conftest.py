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


# Markers of tests that take far longer than the rest of the suite: they run only when a
# ``-m`` expression names them, so that a plain ``-m "not build"`` does not pull them in.
OPT_IN = {
    # The deep formal proofs: python -m pytest -m formal
    "formal",
    # The generated cocotb tests on 10,000 vectors each: python -m pytest -m cocotb_full
    "cocotb_full",
    # The long protocol fuzz of the board link (20,000 cases): python -m pytest -m deep
    "deep",
    # Board builds too slow for the default run (the Tang Nano 9K's: about 6 minutes of CPU,
    # 20-40 minutes on a busy 2-core machine): python -m pytest -m slow_build
    "slow_build",
}


def pytest_collection_modifyitems(config, items):
    """Deselect the tests of the ``OPT_IN`` markers that the ``-m`` expression does not
    name."""
    named = config.option.markexpr or ""
    skipped = {marker for marker in OPT_IN if marker not in named}
    if not skipped:
        return
    deep = [item for item in items
            if any(item.get_closest_marker(marker) for marker in skipped)]
    if deep:
        config.hook.pytest_deselected(items=deep)
        gone = set(map(id, deep))
        items[:] = [item for item in items if id(item) not in gone]
