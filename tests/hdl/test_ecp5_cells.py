# amaranth: UnusedElaboratable=no
"""The ECP5 carry cell's model against Yosys' own simulation model, and the chain builder."""

import itertools
import random

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Cat, Module, Signal
from amaranth.sim import Simulator

from madvq.hdl.tools import run_yosys
from madvq.hdl.ecp5_cells import CCU2C, CHAINED, Adder, Carry, Half, build_chains, ccu2c_model
from madvq.hdl.config import CoreConfig, Target
from madvq.hdl.core import MADCore


def _inits_of_an_ecp5_core():
    """Every (INIT0, INIT1) pair an ECP5 core uses: its distance units' and its winner
    tree's."""
    cfg = CoreConfig(dims=5, templates=2, width=3, signed=True, arithmetic="ecp5")
    text = rtlil.convert(MADCore(cfg), name="core", platform=Target("ecp5", "Trellis"),
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
    """(INIT0, INIT1, INJECT1_0, INJECT1_1): every INIT pair an ECP5 core uses, and
    random ones with every INJECT1 combination."""
    inits = _inits_of_an_ecp5_core()
    assert len(inits) > 10      # distance units (13 on this core) and the winner tree (1)
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


def _run_adders(chains_of, operands):
    """Build the chains that ``chains_of(signals)`` describes (lists of (adder, width of its
    sum, carry out taken as the top bit)) and return their sums for each operand assignment
    (a dict of signal name -> value)."""
    m = Module()
    names = sorted(operands[0])
    sig = {n: Signal(8, name=n) for n in names}
    chains = chains_of(sig)
    build_chains(m, "t", [[a for a, _, _ in chain] for chain in chains])
    outs = []
    for chain in chains:
        for a, width, carry in chain:
            bits = [h.sum for h in a.halves[:width]]
            if carry:
                bits.append(a.carry_out)
            out = Signal(len(bits))
            m.d.comb += out.eq(Cat(*bits))
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


def _add_sub(u, v, carry, inverted=False):
    """u + (v xor s) + s of 4-bit operands, s the carry-in (complemented if asked), with the
    carry out as the top bit."""
    s = carry.a if isinstance(carry, Carry) else carry
    halves = [Half(a=u[j], b=v[j], c=s,
                   propagate=lambda a, b, c, i=int(inverted): a ^ b ^ c ^ i,
                   generate=lambda a, b: a) for j in range(4)]
    return Adder(halves, carry), 4, True


@pytest.mark.parametrize("chains", [[[0, 1, 2]], [[0, 1], [2]], [[2, 1], [0]], [[0], [2, 1]],
                                    [[2, 0, 1]]], ids=str)
def test_adders_share_chains_and_keep_their_own_carry(chains):
    """Adders of both carry-in polarities, starting a chain or after another adder, each
    compute u +- v exactly and take their carry out as their top bit."""
    rng = random.Random(len(chains))
    operands = [{"u": rng.randrange(16), "v": rng.randrange(16), "w": rng.randrange(16),
                 "s": rng.randrange(2)} for _ in range(40)]

    def chains_of(sig):
        s = sig["s"][0]
        adders = [
            _add_sub(sig["u"], sig["v"], s),
            # Computed by the half that starts its carry: never the first of a chain.
            _add_sub(sig["w"], sig["u"], Carry(s, 0, lambda a, b: 1 - a), inverted=True),
            (Adder([Half(a=sig["v"][j], b=sig["w"][j], propagate=lambda a, b, c: a ^ b ^ 1,
                         generate=lambda a, b: a) for j in range(4)], 1), 4, True),
        ]
        return [[adders[k] for k in chain] for chain in chains]

    order = [k for chain in chains for k in chain]
    for values, got in zip(operands, _run_adders(chains_of, operands)):
        u, v, w, s = values["u"], values["v"], values["w"], values["s"]
        expected = [u + (v ^ (15 * s)) + s, w + (u ^ (15 * (1 - s))) + (1 - s),
                    v + (w ^ 15) + 1]
        assert got == [expected[k] for k in order]


def test_chained_adders_pass_the_carry_on():
    """A half with P = 1 gives the complement of the carry as its sum and passes the carry
    into the next adder (CHAINED): two subtractions in a row, the second taking the first's
    carry out (1 when u >= v) as its carry-in."""
    rng = random.Random(5)
    operands = [{"u": rng.randrange(16), "v": rng.randrange(16), "w": rng.randrange(16)}
                for _ in range(40)]

    def sub(x, y, carry):
        return [Half(a=x[j], b=y[j], propagate=lambda a, b, c: a ^ b ^ 1,
                     generate=lambda a, b: a) for j in range(4)], carry

    def chains_of(sig):
        first, _ = sub(sig["u"], sig["v"], 1)
        first.append(Half(propagate=lambda a, b, c: 1))
        second, _ = sub(sig["w"], sig["v"], CHAINED)
        return [[(Adder(first, 1), 5, False), (Adder(second, CHAINED), 4, True)]]

    for values, (r0, r1) in zip(operands, _run_adders(chains_of, operands)):
        u, v, w = values["u"], values["v"], values["w"]
        borrow = int(u < v)
        assert r0 == ((u - v) & 15) | (borrow << 4)
        assert r1 == w + (v ^ 15) + 1 - borrow


def test_a_half_adds_two_operands_each_with_its_own_complement():
    """With D as a fourth input a half adds (a ^ b) + (c ^ d): the generate is the
    propagate's table at C = D = 0, which is a ^ b."""
    rng = random.Random(7)
    operands = [{"u": rng.randrange(16), "v": rng.randrange(16), "s": rng.randrange(4)}
                for _ in range(60)]

    def chains_of(sig):
        su, sv = sig["s"][0], sig["s"][1]
        halves = [Half(a=sig["u"][j], b=su, c=sig["v"][j], d=sv,
                       propagate=lambda a, b, c, d: a ^ b ^ c ^ d,
                       generate=lambda a, b: a ^ b) for j in range(4)]
        return [[(Adder(halves, su), 4, True)]]

    for values, (r,) in zip(operands, _run_adders(chains_of, operands)):
        u, v, s = values["u"], values["v"], values["s"]
        su, sv = s & 1, s >> 1
        assert r == (u ^ (15 * su)) + (v ^ (15 * sv)) + su


def test_a_half_with_d_must_generate_its_own_table():
    with pytest.raises(ValueError, match=r"^a half with a D input generates propagate\(a, b, 0, "
                                         r"0\); its generate must be that function$"):
        Half(d=1, propagate=lambda a, b, c, d: a ^ b ^ c ^ d,
             generate=lambda a, b: 1 - a).init()


def test_a_half_can_read_an_earlier_half_only():
    m = Module()
    late = Half(propagate=lambda a, b, c: 1)
    early = Half(c=late, propagate=lambda a, b, c: c)
    with pytest.raises(ValueError, match=r"^a half's input can only be the sum of a half "
                                         r"laid out before it$"):
        build_chains(m, "t", [[Adder([early], 0), Adder([late], 0)]])


def test_cell_init_must_be_16_bits():
    with pytest.raises(ValueError, match=r"^init0 must be a 16-bit integer, not 65536$"):
        CCU2C(1 << 16, 0)


@pytest.mark.parametrize("carry", [CHAINED, Carry(0, 0, lambda a, b: a)])
def test_a_chain_starts_with_a_plain_carry(carry):
    with pytest.raises(ValueError, match=r"^a chain starts with a constant or a 1-bit "
                                         r"carry-in, not "):
        build_chains(Module(), "t", [[Adder([Half(propagate=lambda a, b, c: 1)], carry)]])
