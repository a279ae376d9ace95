"""The distance unit laid out in ECP5 carry cells: a sign-tracking adder tree.

``sum_i |x_i - t_i|`` with a single absolute value:

* Leaves compute ``d_i = x_i - t_i`` in W halves, plus one half that outputs the carry out:
  whether ``d_i >= 0`` (the flag ``n_i``). They keep the low W bits of ``d_i`` and ``n_i``.
* A subtree carries a value ``w`` and the sign ``s`` (+-1) of its leftmost leaf, with
  ``sum |d| = s * w``. Two subtrees combine as ``s_u*w_u + s_v*w_v = s_u*(w_u + s_u*s_v*w_v)``:
  ``w_u`` plus or minus ``w_v``, a conditional complement that each ``CCU2C`` half computes in
  its own LUT (``w_u + (w_v ^ S) + S``, ``S = s_u xor s_v`` as the carry-in); ``s_u`` goes up.
  ``|w|`` fits the unsigned width of the subtree's distance and the sign of ``w`` is ``s``, so
  only those bits are computed and stored: the widths of an unsigned adder tree.
* The root's value is ``s_0`` times the distance: one conditional negation, ``(w ^ s) + s``,
  removes the sign.

Every adder ends in a half whose sum is its carry out, which also starts the next adder's
carry, so adders share chains. Every carry-chain input comes straight from a register (or the
flags of the leaves beside it) and every sum goes straight into one: the ``S`` of a
first-level node is computed by a half beside its leaves, from their flags; a higher node's
``S`` by one LUT, registered a stage ahead.

Latency ``config.distance_latency`` = 2 + ceil(log2 N) cycles (leaves, tree levels,
negation); one vector-template pair per cycle.
"""

from amaranth.hdl import Cat, Signal

from .carry import Adder, Half, build_chains


__all__ = ["sign_tracking_distance", "CHAIN_HALVES"]


# Longest chain, in halves (two per CCU2C): two pairs of 8-bit leaves and their S halves. Every chain costs a half that starts its carry; a longer one lengthens the carry path
# that timing analysis sees, since it does not know that a P = 0 half cuts the carry (about
# 0.07 ns per CCU2C on an ECP5 of speed grade 6).
CHAIN_HALVES = 40


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
    # top bits flipped (x - t is unchanged), which only changes that bit's generate. After
    # every two pairs of leaves, one half per pair computes S = n_2k xor n_2k+1 from their
    # flags, the carry-in of the pair's node: no LUT, no stage of its own. These halves end
    # their chain's part: a carry through them would be a long path to timing analysis. --
    leaf_bits, leaf_flag, pair_flip = {}, {}, {}
    for group in range(0, N, 4):
        tops = {}
        for i in range(group, min(group + 4, N)):
            halves = []
            for k in range(W):
                flip = config.signed and k == W - 1
                halves.append(Half(
                    a=vector[i][k], b=template[i][k], propagate=lambda a, b, c: a ^ b ^ 1,
                    generate=(lambda a, b: 1 - a) if flip else (lambda a, b: a)))
            tops[i] = Half()          # P = 0: its sum is the carry out, x >= t
            halves.append(tops[i])
            out = adder(halves, 1, f"{name}_leaf{i}")
            leaf_bits[i], leaf_flag[i] = out[:W], out[W]
        pairs = [i for i in range(group, min(group + 4, N) - 1, 2)]
        if pairs:
            halves = [Half(b=tops[i], c=tops[i + 1], propagate=lambda a, b, c: b ^ c,
                           generate=lambda a, b: 0) for i in pairs]
            out = adder(halves, 0, f"{name}_pairs{group // 4}")
            for j, i in enumerate(pairs):
                pair_flip[i] = out[j]

    # Leaf flags delayed to be readable in a given stage (stage 2 reads stage 1's registers).
    flags = {}

    def flag(i, stage):
        if (i, stage) not in flags:
            flags[i, stage] = (leaf_flag[i] if stage == 2
                               else register(flag(i, stage - 1), f"{name}_n{i}_s{stage}"))
        return flags[i, stage]

    # A subtree is (value bits, its leftmost leaf, leaves below it).
    nodes = [(leaf_bits[i], i, 1) for i in range(N)]
    stage = 1

    # -- stages 2 ...: tree levels. S = s_u xor s_v = n_u xor n_v: from the leaves for the
    # first level, else one LUT whose output is registered a stage early. --
    while len(nodes) > 1:
        stage += 1
        level = stage - 1
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
            if level == 1:
                flip = pair_flip[ref_u]
            else:
                flip = register(flag(ref_u, stage - 1) ^ flag(ref_v, stage - 1),
                                label + "_subtract")
            halves = []
            for j in range(width):
                if j >= max(len(u), len(v)):
                    halves.append(Half())     # both operands are sign bits here: P = 0
                    continue
                # Beyond its stored bits an operand is its sign, 1 - n.
                a, ai = (u[j], 0) if j < len(u) else (flag(ref_u, stage), 1)
                b, bi = (v[j], 0) if j < len(v) else (flag(ref_v, stage), 1)
                halves.append(Half(
                    a=a, b=b, c=flip,
                    propagate=lambda a, b, c, ai=ai, bi=bi: (a ^ ai) ^ (b ^ bi) ^ c,
                    generate=lambda a, b, ai=ai: a ^ ai))
            out = adder(halves, flip, label)
            paired.append((out, ref_u, leaves))
        nodes = paired

    # -- last stage: the root's value is s_0 * distance; |w| = (w ^ s) + s, s = 1 - n_0. --
    stage += 1
    value, ref, _ = nodes[0]
    nonneg = flag(ref, stage)
    halves = [Half(a=0, b=value[j], c=nonneg,
                   propagate=lambda a, b, c: b ^ c ^ 1, generate=lambda a, b: 0)
              for j in range(len(value))]
    result = adder(halves, nonneg, f"{name}_root", inverted=True)
    assert stage == config.distance_latency

    chains = build_chains(m, name, adders, max_halves=max_halves)
    for reg, halves in outputs:
        m.d.sync += reg.eq(Cat(*(h.sum for h in halves)))
    m.d.comb += distance.eq(result)
    return chains
