# amaranth: UnusedElaboratable=no
"""The ECP5 carry cell's model against Yosys' own simulation model, and the chain builder."""

import itertools
import random

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Cat, Module, Signal
from amaranth.sim import Simulator

from madvq.hdl.tools import run_yosys
from madvq.hdl.ecp5_cells import CCU2C, Adder, Half, build_chains, ccu2c_model
from madvq.hdl.config import CoreConfig, Target
from madvq.hdl.distance import DistanceUnit


def _inits_of_a_distance_unit():
    """Every (INIT0, INIT1) pair the ECP5 distance unit and winner tree use."""
    cfg = CoreConfig(dims=5, templates=2, width=3, signed=True, arithmetic="ecp5")
    unit = DistanceUnit(cfg)
    text = rtlil.convert(unit, name="unit", platform=Target("ecp5", "Trellis"),
                         emit_src=False)
    inits = set()
    cell = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("parameter \\INIT0 "):
            cell = int(line.split("'")[1], 2)
        elif line.startswith("parameter \\INIT1 ") and cell is not None:
            inits.add((cell, int(line.split("'")[1], 2)))
            cell = None
    return sorted(inits)


PORTS = ["CIN", "A0", "B0", "C0", "D0", "A1", "B1", "C1", "D1", "S0", "S1", "COUT"]


def _cases():
    """(INIT0, INIT1, INJECT1_0, INJECT1_1): every INIT pair the distance unit uses, and
    random ones with every INJECT1 combination."""
    inits = _inits_of_a_distance_unit()
    assert len(inits) > 3
    rng = random.Random(1)
    cases = [(i0, i1, False, False) for i0, i1 in inits]
    cases += [(rng.randrange(1 << 16), rng.randrange(1 << 16), j0, j1)
              for j0, j1 in itertools.product([False, True], repeat=2) for _ in range(2)]
    return cases


def _instance(module, name, i0, i1, j0, j1):
    """Verilog of module ``name`` that instantiates ``module`` with these parameters."""
    ports = ", ".join(f".{p}({p})" for p in PORTS)
    return (f"module {name}(input CIN, A0, B0, C0, D0, A1, B1, C1, D1, output S0, S1, COUT);\n"
            f"  {module} #(.INIT0(16'd{i0}), .INIT1(16'd{i1}), "
            f".INJECT1_0(\"{'YES' if j0 else 'NO'}\"), "
            f".INJECT1_1(\"{'YES' if j1 else 'NO'}\")) cell ({ports});\nendmodule\n")


def _prove_equal_to_yosys_cell(tmp_path, model_script):
    """Yosys proves, for each case, module ``model`` (read by ``model_script(n, case)``)
    equal to a module around Yosys' own ECP5 simulation model of CCU2C."""
    cases = _cases()
    # Yosys' models of the cell and of the LUTs it is made of, as ordinary modules.
    script = ["read_verilog +/ecp5/common_sim.vh +/ecp5/ccu2c_sim.vh", "design -save cells"]
    for n, case in enumerate(cases):
        (tmp_path / f"gold{n}.v").write_text(_instance("CCU2C", "gold", *case))
        # The cell is a whitebox: flatten -wb, once hierarchy has set its parameters.
        # The model alone first, kept aside while the cell is elaborated.
        script += ["design -reset", *model_script(n, case), "hierarchy -top model", "proc",
                   "flatten", "design -stash model",
                   "design -load cells", f"read_verilog gold{n}.v", "hierarchy -top gold",
                   "proc", "flatten -wb", "design -copy-from model -as model model",
                   "miter -equiv -flatten -make_assert gold model miter",
                   "sat -verify -prove-asserts miter"]
    log = run_yosys("; ".join(script), tmp_path)
    assert log.count("SAT proof finished - no model found: SUCCESS!") == len(cases)


def test_the_model_is_the_cell(tmp_path):
    """Yosys proves that the Amaranth model computes what Yosys' ECP5 simulation model of
    CCU2C computes."""
    def model(n, case):
        i0, i1, j0, j1 = case
        text = rtlil.convert(CCU2C(i0, i1, inject1_0=j0, inject1_1=j1), name="model",
                             emit_src=False)
        (tmp_path / f"model{n}.il").write_text(text)
        return [f"read_rtlil model{n}.il"]
    _prove_equal_to_yosys_cell(tmp_path, model)


def test_the_verilog_model_is_the_cell(tmp_path):
    """Yosys proves that the behavioural Verilog model shipped beside ecp5 cores (CCU2C.v)
    computes what Yosys' own simulation model of CCU2C computes."""
    # Renamed, so that it does not clash with Yosys' cell of the same name.
    (tmp_path / "ours.v").write_text(ccu2c_model().replace("module CCU2C", "module OURS"))

    def model(n, case):
        (tmp_path / f"model{n}.v").write_text(_instance("OURS", "model", *case))
        return ["read_verilog ours.v", f"read_verilog model{n}.v"]
    _prove_equal_to_yosys_cell(tmp_path, model)


def _run_adders(adders_of, operands, *, max_halves):
    """Build the adders that ``adders_of(signals)`` describes, chain them, and return their
    sums for each operand assignment (a dict of signal name -> value)."""
    m = Module()
    names = sorted(operands[0])
    sig = {n: Signal(8, name=n) for n in names}
    adders = adders_of(sig)
    build_chains(m, "t", [a for a, _ in adders], max_halves=max_halves)
    outs = []
    for a, width in adders:
        out = Signal(width)
        m.d.comb += out.eq(Cat(*(h.sum for h in a.halves[:width])))
        outs.append(out)
    results = []

    async def bench(ctx):
        for values in operands:
            for n, v in values.items():
                ctx.set(sig[n], v)
            await ctx.delay(1e-9)
            results.append([ctx.get(o) for o in outs])

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return results


def _add_sub(u, v, s, width, inverted=False):
    """u + (v xor s) + s of ``width``-bit operands, s a 1-bit signal (complemented if asked),
    with the carry out as the top bit."""
    halves = [Half(a=u[j], b=v[j], c=s,
                   propagate=lambda a, b, c, i=int(inverted): a ^ b ^ c ^ i,
                   generate=lambda a, b: a) for j in range(width)]
    return Adder(halves + [Half()], s, inverted), width + 1


@pytest.mark.parametrize("max_halves", [3, 12, 100])
def test_adders_share_chains_and_keep_their_own_carry(max_halves):
    """Adders of both carry-in polarities, chained or not, each compute u +- v exactly."""
    rng = random.Random(max_halves)
    operands = [{"u": rng.randrange(16), "v": rng.randrange(16), "w": rng.randrange(16),
                 "s": rng.randrange(2)} for _ in range(40)]

    def adders_of(sig):
        return [_add_sub(sig["u"], sig["v"], sig["s"][0], 4),
                _add_sub(sig["w"], sig["u"], sig["s"][0], 4, inverted=True),
                (Adder([Half(a=sig["v"][j], b=sig["w"][j],
                             propagate=lambda a, b, c: a ^ b ^ 1, generate=lambda a, b: a)
                        for j in range(4)] + [Half()], 1), 5)]
    for values, (r0, r1, r2) in zip(operands, _run_adders(adders_of, operands,
                                                          max_halves=max_halves)):
        u, v, w, s = values["u"], values["v"], values["w"], values["s"]
        # 4-bit operands, the carry out as the fifth bit of each sum.
        assert r0 == u + (v ^ (15 * s)) + s
        assert r1 == w + (u ^ (15 * (1 - s))) + (1 - s)
        assert r2 == v + (w ^ 15) + 1


def test_a_half_can_read_an_earlier_half_only():
    m = Module()
    late = Half(propagate=lambda a, b, c: 1)
    early = Half(c=late, propagate=lambda a, b, c: c)
    with pytest.raises(ValueError, match=r"^a half's input can only be the sum of a half "
                                         r"laid out before it$"):
        build_chains(m, "t", [Adder([early], 0), Adder([late], 0)], max_halves=10)


def test_cell_init_must_be_16_bits():
    with pytest.raises(ValueError, match=r"^init0 must be a 16-bit integer, not 65536$"):
        CCU2C(1 << 16, 0)


def test_chains_need_room():
    with pytest.raises(ValueError, match=r"^max_halves must be at least 3, not 2$"):
        build_chains(Module(), "t", [], max_halves=2)
