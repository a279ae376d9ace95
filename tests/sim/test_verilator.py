"""The Verilator backend against the Amaranth backend and the golden model: same results,
same cycle counts; a million-vector run; waveform windows; hang reports."""

import numpy as np
import pytest
from vcd.reader import TokenKind, tokenize

from madvq.hdl.config import CoreConfig
from madvq.hdl.ports import port_table
from madvq.sim import amaranth_backend, verilator_backend
from madvq.sim.amaranth_backend import AmaranthBackend
from madvq.sim.run import SimulationError, simulate
from madvq.sim.stimulus import Batch, Segment, random_pattern
from madvq.sim.verilator_backend import VerilatorBackend
from scenarios import config_id, make_config, scenario


# N=1, M=1, W=1, W=32 (64- and 96-bit data ports, 99- and 170-bit distance ports), signed,
# P < M as a divisor and not, both storages, all distances, the default core and a wide
# signed one with P dividing M.
CROSS = [
    (1, 1, 1, False, 1, {}),
    (1, 5, 4, True, 2, {}),
    (3, 5, 1, False, 5, {}),
    (3, 16, 4, False, 4, {"storage": "ram"}),
    (3, 5, 32, True, 2, {"distances": True}),
    (2, 3, 32, False, 3, {"distances": True}),
    (16, 5, 8, True, 2, {"storage": "ram"}),
    (16, 16, 8, False, 16, {}),
    (16, 16, 8, True, 8, {"distances": True}),
]


def assert_same_run(fast, slow):
    assert fast.cycles == slow.cycles
    assert fast.results.index.tolist() == slow.results.index.tolist()
    assert fast.results.distance.tolist() == slow.results.distance.tolist()
    if slow.results.distances is None:
        assert fast.results.distances is None
    else:
        assert fast.results.distances.tolist() == slow.results.distances.tolist()


@pytest.mark.parametrize("params", CROSS, ids=[config_id(c) for c in CROSS])
def test_backends_agree_cycle_for_cycle(params):
    """Codebook rewrites in flight, active-count changes, ties, corner values, at full rate
    and under random valid/ready stalls: both backends give the golden model's results in
    the same number of cycles."""
    cfg = make_config(params)
    fast_backend = VerilatorBackend(cfg)
    slow_backend = AmaranthBackend(cfg)
    n, m = cfg.dims, cfg.templates
    for seed, stalls in ((1, None), (2, 0.6), (3, 0.25)):
        batch = scenario(cfg, seed=seed * 1000 + n * 10 + m,
                         vectors=8 if n * m >= 256 else 24, stalls=stalls)
        fast = fast_backend.run(batch)
        fast.check(batch)
        assert_same_run(fast, slow_backend.run(batch))


@pytest.mark.parametrize("params", [CROSS[1], CROSS[4], CROSS[8]],
                         ids=[config_id(c) for c in (CROSS[1], CROSS[4], CROSS[8])])
def test_many_random_vectors_under_stalls(params):
    """Thousands of vectors, several segments, random stalls: every result as the golden
    model says (too slow for the Amaranth backend; its cycle count is checked above)."""
    cfg = make_config(params)
    rng = np.random.default_rng(cfg.dims * 7 + cfg.templates)

    def values(*shape):
        return rng.integers(cfg.value_min, cfg.value_max + 1, shape, dtype=np.int64)
    segments = []
    for k in range(6):
        rewrite = rng.choice(cfg.templates, size=rng.integers(1, cfg.templates + 1),
                             replace=False)
        segments.append(Segment(values(1500, cfg.dims), rewrite,
                                values(len(rewrite), cfg.dims),
                                int(rng.integers(1, cfg.templates + 1))))
    batch = Batch(cfg, segments, valid_pattern=random_pattern(rng, 53, 0.7),
                  ready_pattern=random_pattern(rng, 47, 0.5))
    run = VerilatorBackend(cfg).run(batch)
    assert len(run.check(batch)) == 9000


def test_a_million_vectors_of_the_default_core():
    """1,000,000 vectors through the exported 16x16x8 Verilog, with the codebook rewritten
    half-way while results are in flight; every result checked against the golden model;
    one vector per cycle."""
    cfg = CoreConfig()
    rng = np.random.default_rng(2024)
    first = rng.integers(0, 256, (cfg.templates, cfg.dims))
    second = rng.integers(0, 256, (cfg.templates, cfg.dims))
    x = rng.integers(0, 256, (1_000_000, cfg.dims))
    x[:3] = [np.zeros(cfg.dims), np.full(cfg.dims, 255), first[5]]
    half = len(x) // 2
    batch = Batch(cfg, [Segment(x[:half], np.arange(cfg.templates), first, cfg.templates),
                        Segment(x[half:], np.arange(cfg.templates), second, 11)])
    run = simulate(batch, backend="verilator")
    expected = run.check(batch)
    assert len(expected) == 1_000_000
    assert run.results.index[2] == 5 and run.results.distance[2] == 0
    writes = 2 * (cfg.templates + 1)
    assert run.cycles <= len(x) + writes + cfg.latency_cycles + 4


def test_results_and_cycles_do_not_depend_on_the_backend_object():
    """A second backend object reuses the compiled model; runs are independent (each starts
    from a freshly reset core)."""
    cfg = make_config(CROSS[1])
    batch = scenario(cfg, seed=5, stalls=0.5)
    a = VerilatorBackend(cfg)
    first = a.run(batch)
    again = a.run(batch)
    other = VerilatorBackend(cfg)
    assert_same_run(first, again)
    assert_same_run(first, other.run(batch))
    assert other.model.built is False


def test_empty_batch():
    cfg = make_config(CROSS[1])
    batch = Batch(cfg, [Segment(np.zeros((0, 1), np.int64), [0], [[3]], 2)])
    run = VerilatorBackend(cfg).run(batch)
    assert run.cycles == 0 and len(run.results) == 0


@pytest.mark.parametrize("backend", ["amaranth", "verilator"])
def test_a_hang_is_reported(backend, monkeypatch):
    """No result within the cycle budget: both backends stop and say so."""
    module = amaranth_backend if backend == "amaranth" else verilator_backend
    monkeypatch.setattr(module, "cycle_budget", lambda batch: 6)
    cfg = make_config(CROSS[1])
    batch = scenario(cfg, seed=9)
    with pytest.raises(SimulationError, match=rf"^no result after 6 cycles: 0 of "
                                              rf"{batch.vector_count} results arrived$"):
        simulate(batch, backend=backend)


def test_batch_for_another_configuration():
    cfg = make_config(CROSS[1])
    batch = scenario(make_config(CROSS[0]), seed=1)
    with pytest.raises(ValueError, match=r"the batch is for madvq_1x1x1u_p1, the backend "
                                         r"simulates madvq_1x5x4s_p2"):
        VerilatorBackend(cfg).run(batch)


# -- waveforms --

PERIOD_PS = 10_000


def read_vcd(path):
    """``{name: [(time_ps, value), ...]}`` for the variables of a VCD (the last scope
    component as the name; the first scope holding a name wins), and the times seen."""
    with open(path, "rb") as f:
        tokens = list(tokenize(f))
    scale = 1
    scope, names, changes, times = [], {}, {}, []
    time = 0
    for tok in tokens:
        if tok.kind is TokenKind.TIMESCALE:
            unit = tok.timescale.unit.value
            scale = tok.timescale.magnitude.value * {"fs": 1e-3, "ps": 1, "ns": 1e3}[unit]
        elif tok.kind is TokenKind.SCOPE:
            scope.append(tok.scope.ident)
        elif tok.kind is TokenKind.UPSCOPE:
            scope.pop()
        elif tok.kind is TokenKind.VAR:
            names.setdefault(tok.var.reference, (len(scope), tok.var.id_code))
        elif tok.kind is TokenKind.CHANGE_TIME:
            time = round(tok.data * scale)
            times.append(time)
        elif tok.kind in (TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_VECTOR):
            value = tok.data.value
            changes.setdefault(tok.data.id_code, []).append((time, value))
    # Prefer the shallowest declaration of each name: the module's own ports.
    by_name = {}
    for name, (depth, code) in names.items():
        by_name[name] = changes.get(code, [])
    return by_name, times


def value_before(changes, time):
    """The value a signal had just before ``time``."""
    value = None
    for t, v in changes:
        if t >= time:
            break
        value = v
    return value


def as_int(value):
    return int(value, 2) if isinstance(value, str) else int(value)


def test_waveform_windows_agree(tmp_path):
    """The same window of the same batch from both backends: only the window's times, the
    Verilog port names, and every port with the same value before every rising edge."""
    cfg = make_config(CROSS[4])
    batch = scenario(cfg, seed=4, stalls=0.6)
    start, cycles = 40, 60
    fast_vcd, slow_vcd = tmp_path / "verilator.vcd", tmp_path / "amaranth.vcd"
    fast = simulate(batch, backend="verilator", vcd=fast_vcd, vcd_start=start,
                    vcd_cycles=cycles)
    slow = simulate(batch, backend="amaranth", vcd=slow_vcd, vcd_start=start,
                    vcd_cycles=cycles)
    assert fast.cycles == slow.cycles > start + cycles
    fast_signals, fast_times = read_vcd(fast_vcd)
    slow_signals, slow_times = read_vcd(slow_vcd)
    for times in (fast_times, slow_times):
        assert min(times) == start * PERIOD_PS
        assert max(times) < (start + cycles) * PERIOD_PS
    assert f"module {cfg.default_name}" in fast_vcd.read_text()
    ports = [p["name"] for p in port_table(cfg) if p["name"] != "clk"]
    for name in ports:
        assert name in fast_signals and name in slow_signals, name
    transfers = 0
    for c in range(start, start + cycles):
        edge = c * PERIOD_PS + PERIOD_PS // 2
        for name in ports:
            got = value_before(fast_signals[name], edge)
            want = value_before(slow_signals[name], edge)
            assert as_int(got) == as_int(want), (name, c)
        transfers += as_int(value_before(fast_signals["result_valid"], edge)) \
            & as_int(value_before(fast_signals["result_ready"], edge))
    assert transfers > 5        # the window shows results moving


@pytest.mark.parametrize("backend", ["amaranth", "verilator"])
def test_waveform_window_after_the_run_is_empty(backend, tmp_path):
    cfg = make_config(CROSS[1])
    batch = scenario(cfg, seed=2)
    path = tmp_path / "late.vcd"
    run = simulate(batch, backend=backend, vcd=path, vcd_start=10_000, vcd_cycles=5)
    signals, times = read_vcd(path)
    assert run.cycles < 10_000
    assert "vector_valid" in signals and times == []


@pytest.mark.parametrize("backend", ["amaranth", "verilator"])
def test_whole_run_waveform(backend, tmp_path):
    cfg = make_config(CROSS[1])
    batch = scenario(cfg, seed=3)
    path = tmp_path / "all.vcd"
    run = simulate(batch, backend=backend, vcd=path)
    signals, times = read_vcd(path)
    assert min(times) == 0
    assert max(times) >= (run.cycles - 1) * PERIOD_PS
    valid = [as_int(v) for t, v in signals["result_valid"]]
    assert 1 in valid


@pytest.mark.parametrize("backend", ["amaranth", "verilator"])
def test_unwritable_waveform_file(backend, tmp_path):
    cfg = make_config(CROSS[1])
    batch = scenario(cfg, seed=2)
    # A missing folder is made; one that is a regular file cannot be.
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match=r"File exists"):
        simulate(batch, backend=backend, vcd=tmp_path / "file" / "w.vcd")


@pytest.mark.parametrize("start, cycles, message", [
    (-1, None, r"the VCD window start must be a cycle number >= 0, not -1"),
    (0, 0, r"the VCD window must be at least 1 cycle long, not 0"),
    (1.5, None, r"the VCD window start must be a cycle number >= 0, not 1\.5"),
    # Cycles are counted in 64 bits.
    (2 ** 64 - 1, 1, r"the VCD window must end by cycle 2\*\*64 - 1, not start at "
                     r"18446744073709551615 and last 1 cycles"),
])
def test_bad_waveform_window(start, cycles, message, tmp_path):
    cfg = make_config(CROSS[0])
    batch = scenario(cfg, seed=2)
    with pytest.raises(ValueError, match=message):
        simulate(batch, backend="amaranth", vcd=tmp_path / "w.vcd", vcd_start=start,
                 vcd_cycles=cycles)
