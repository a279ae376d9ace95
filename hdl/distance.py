"""Distance units: ``sum_i |vector[i] - template[i]|`` of one vector and one template.

:class:`DistanceUnit` is the component; it runs freely (no handshake), takes a new pair every
cycle and gives its distance ``config.distance_latency`` = 2 + ceil(log2 N) cycles later,
exact, in ``config.distance_width`` bits. Two implementations:

* ``generic`` arithmetic: N absolute differences, registered, summed in a registered adder
  tree (plain HDL for any device or ASIC flow; see :class:`DistanceUnit`).
* ``ecp5`` arithmetic: a sign-tracking adder tree laid out in ``CCU2C`` carry cells
  (:func:`sign_tracking_distance`):

  ``sum_i |x_i - t_i|`` with a single absolute value:

  * Leaves compute ``d_i = x_i - t_i`` in W halves, plus one half that outputs the carry out:
    whether ``d_i >= 0`` (the flag ``n_i``). They keep the low W bits of ``d_i`` and ``n_i``.
  * A subtree carries a value ``w`` and the sign ``s`` (+-1) of its leftmost leaf, with
    ``sum |d| = s * w``. Two subtrees combine as ``s_u*w_u + s_v*w_v = s_u*(w_u + s_u*s_v*w_v)``:
    ``w_u`` plus or minus ``w_v``, a conditional complement that each ``CCU2C`` half computes in
    its own LUT (``w_u + (w_v ^ S) + S``, ``S = s_u xor s_v`` as the carry-in); ``s_u`` goes up.
    ``|w|`` fits the unsigned width of the subtree's distance and the sign of ``w`` is ``s``, so
    only those bits are computed and stored: the widths of an unsigned adder tree.
  * Leaf 0 alone is made absolute, ``(d_0 ^ s_0) + s_0``, so every subtree holding it has
    ``s = +1`` and the root's value is the distance.

  Every adder ends in a half whose sum is its carry out, which also starts the next adder's
  carry: adders share chains, and nextpnr adds one feed-in cell per chain rather than per adder.
  Every carry-chain input comes straight from a register and every sum goes straight into one:
  the ``S`` of a node is computed (one LUT) and registered a stage ahead, which costs one stage
  between the leaves and the first tree level, the stage where leaf 0 is made absolute.
"""

from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import check_config
from .ecp5_cells import Adder, Half, build_chains
from .layouts import vector_layout
from .registers import delay


__all__ = ["DistanceUnit", "sign_tracking_distance", "CHAIN_HALVES"]


class DistanceUnit(wiring.Component):
    """Distance of one vector from one template: ``sum_i |vector[i] - template[i]|``.

    Exact, in ``config.distance_width`` bits. Latency ``config.distance_latency`` cycles
    (an absolute-difference stage, one stage per adder-tree level, a last carry stage);
    accepts a new pair every cycle. There is no handshake: the unit runs freely and its user
    tracks validity.

    The absolute difference ``|d|`` of a leaf is formed as ``(d ^ s) + s`` with ``s`` the sign
    of ``d``; the ``+ s`` rides into the carry input of an adder higher up the tree instead of
    costing an incrementer per leaf (on an iCE40, a leaf's subtraction and complement share
    one LUT per bit). N - 1 adders have room for N - 1 such bits; the last one is added to
    the root in a stage of its own, so that no stage holds two carry chains one after the
    other. With ``ecp5`` arithmetic the unit is a sign-tracking tree of carry cells instead
    (:func:`sign_tracking_distance`).
    """

    def __init__(self, config):
        check_config(config)
        self._config = config
        super().__init__({
            "vector": In(vector_layout(config)),
            "template": In(vector_layout(config)),
            "distance": Out(config.distance_width),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        cfg = self._config
        W = cfg.width
        value_max = (1 << W) - 1
        m = Module()
        if cfg.arithmetic == "ecp5":
            sign_tracking_distance(m, cfg, self.vector, self.template, self.distance)
            return m

        # A node is (registered sum, leaves below it, registered carry bits not yet added).
        nodes = []
        for i in range(cfg.dims):
            diff = Signal(unsigned(W + 1), name=f"diff{i}")
            m.d.comb += diff.eq(self.vector[i] - self.template[i])
            sign = diff[W]
            absd = Signal(W, name=f"absd{i}", reset_less=True)
            m.d.sync += absd.eq(diff[:W] ^ sign.replicate(W))
            carry = Signal(name=f"absd{i}_carry", reset_less=True)
            m.d.sync += carry.eq(sign)
            nodes.append((absd, 1, [carry]))

        level = 0
        while len(nodes) > 1:
            level += 1
            pairs = [nodes[k:k + 2] for k in range(0, len(nodes), 2)]
            nodes = []
            for k, pair in enumerate(pairs):
                name = f"sum{level}_{k}"
                if len(pair) == 1:          # odd node out: register it to stay aligned
                    value, leaves, carries = pair[0]
                    reg = Signal.like(value, name=name, reset_less=True)
                    m.d.sync += reg.eq(value)
                else:
                    (a, la, ca), (b, lb, cb) = pair
                    leaves = la + lb
                    carries = ca + cb
                    reg = Signal((leaves * value_max).bit_length(), name=name, reset_less=True)
                    if carries:
                        m.d.sync += reg.eq(a + b + carries.pop(0))
                    else:
                        m.d.sync += reg.eq(a + b)
                carries = [delay(m, c, 1, f"{name}_carry{j}") for j, c in enumerate(carries)]
                nodes.append((reg, leaves, carries))

        # The last carry, added in a stage of its own.
        root, _, carries = nodes[0]
        assert len(carries) == 1 and level == cfg.tree_levels
        distance = Signal(cfg.distance_width, name="distance", reset_less=True)
        m.d.sync += distance.eq(root + carries[0])
        m.d.comb += self.distance.eq(distance)
        return m


# Longest chain, in halves (two per CCU2C). Every chain costs nextpnr's feed-in cell; a longer
# one lengthens the carry path that timing analysis sees, since it does not know that a
# P = 0 half cuts the carry (about 0.07 ns per CCU2C on an ECP5 of speed grade 6).
CHAIN_HALVES = 36


def sign_tracking_distance(m, config, vector, template, distance, *, name="dist",
                           max_halves=CHAIN_HALVES):
    """Add to module ``m`` the logic that drives ``distance`` from the N values of
    ``vector`` and ``template``, ``config.distance_latency`` cycles later, as registers.
    Returns the number of carry chains."""
    W, N = config.width, config.dims
    value_max = (1 << W) - 1
    adders = []
    outputs = []      # (register, halves whose sums it takes)

    def adder(halves, carry_in, label, *, inverted=False):
        """Describe an adder now; its registered sums appear once the chains exist."""
        adders.append(Adder(halves, carry_in, inverted))
        reg = Signal(len(halves), name=label, reset_less=True)
        outputs.append((reg, halves))
        return reg

    def register(value, label):
        reg = Signal(len(value), name=label, reset_less=True)
        m.d.sync += reg.eq(value)
        return reg

    # -- stage 1: leaves, d = x + ~t + 1. Signed values are taken as unsigned ones with their
    # top bits flipped (x - t is unchanged), which only changes that bit's generate. Leaf 0
    # outputs its sign instead of n_0 (a half with P = 1), so it goes last in its chain. --
    leaf_bits, leaf_flag = {}, {}
    for i in list(range(1, N)) + [0]:
        halves = []
        for k in range(W):
            flip = config.signed and k == W - 1
            halves.append(Half(a=vector[i][k], b=template[i][k],
                               propagate=lambda a, b, c: a ^ b ^ 1,
                               generate=(lambda a, b: 1 - a) if flip else (lambda a, b: a)))
        if i == 0:
            halves.append(Half(propagate=lambda a, b, c: 1, generate=lambda a, b: 0))
        else:
            halves.append(Half())          # P = 0: its sum is the carry out, x >= t
        out = adder(halves, 1, f"{name}_leaf{i}")
        leaf_bits[i], leaf_flag[i] = out[:W], out[W]

    # Leaf flags delayed to be readable in a given stage (stage 2 reads stage 1's registers).
    flags = {}

    def flag(i, stage):
        if (i, stage) not in flags:
            flags[i, stage] = (leaf_flag[i] if stage == 2
                               else register(flag(i, stage - 1), f"{name}_n{i}_s{stage}"))
        return flags[i, stage]

    # -- stage 2: |d_0| (its carry-in and complement come from its own sign), and every
    # leaf waits a cycle. A subtree is (value bits, reference leaf or None for +1, leaves). --
    sign0 = leaf_flag[0]
    halves = [Half(a=0, b=leaf_bits[0][j], c=sign0,
                   propagate=lambda a, b, c: b ^ c, generate=lambda a, b: 0)
              for j in range(W)]
    nodes = [(adder(halves, sign0, f"{name}_abs0"), None, 1)]
    nodes += [(register(leaf_bits[i], f"{name}_leaf{i}_s2"), i, 1) for i in range(1, N)]

    # -- stages 3 ...: tree levels. S = s_u xor s_v = n_u xor n_v; with a +1 reference it is
    # 1 - n_v, folded into the halves' tables, else one LUT whose output is registered a
    # stage early. --
    stage = 2
    while len(nodes) > 1:
        stage += 1
        level = stage - 2
        paired = []
        for k in range(0, len(nodes), 2):
            label = f"{name}_sum{level}_{k // 2}"
            if k + 1 == len(nodes):       # odd node out: register it to stay aligned
                value, ref, leaves = nodes[k]
                paired.append((register(value, label), ref, leaves))
                continue
            (u, ref_u, lu), (v, ref_v, lv) = nodes[k], nodes[k + 1]
            leaves = lu + lv
            width = (leaves * value_max).bit_length()
            if ref_u is None:
                flip, flip_inv = flag(ref_v, stage), 1
            else:
                flip = register(flag(ref_u, stage - 1) ^ flag(ref_v, stage - 1),
                                label + "_subtract")
                flip_inv = 0
            # Beyond its stored bits an operand is its sign, 1 - n (or 0 for a +1 subtree).
            ext_u = (0, 0) if ref_u is None else (flag(ref_u, stage), 1)
            ext_v = (flag(ref_v, stage), 1)
            halves = []
            for j in range(width):
                if j >= max(len(u), len(v)):
                    halves.append(Half())     # both operands are sign bits here: P = 0
                    continue
                a, ai = (u[j], 0) if j < len(u) else ext_u
                b, bi = (v[j], 0) if j < len(v) else ext_v
                halves.append(Half(
                    a=a, b=b, c=flip,
                    propagate=lambda a, b, c, ai=ai, bi=bi, ci=flip_inv: (a ^ ai) ^ (b ^ bi)
                    ^ (c ^ ci),
                    generate=lambda a, b, ai=ai: a ^ ai))
            out = adder(halves, flip, label, inverted=bool(flip_inv))
            paired.append((out, ref_u, leaves))
        nodes = paired
    assert stage == config.distance_latency

    chains = build_chains(m, name, adders, max_halves=max_halves)
    for reg, halves in outputs:
        m.d.sync += reg.eq(Cat(*(h.sum for h in halves)))
    m.d.comb += distance.eq(nodes[0][0])
    return chains
