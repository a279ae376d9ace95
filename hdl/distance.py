"""Distance units: ``sum_i |vector[i] - template[i]|`` of one vector and one template.

:class:`DistanceUnit` is the component; it runs freely (no handshake), takes a new pair every
cycle and gives its distance ``config.distance_latency`` = 2 + ceil(log2 N) cycles later,
exact, in ``config.distance_width`` bits. Two implementations:

* ``generic`` arithmetic: N absolute differences, registered, summed in a registered adder
  tree (plain HDL for any device or ASIC flow; see :class:`DistanceUnit`).
* ``ecp5`` arithmetic: an unsigned adder tree laid out in ``CCU2C`` carry cells, into whose
  first adders the absolute values are folded (:func:`folded_distance`):

  * Leaves compute ``r_i = x_i - t_i - b_i`` in W halves, where ``b_i`` is 0 or, when the leaf
    takes the carry of the leaf before it in its chain, that leaf's sign. A leaf ends in a half
    whose sum is its sign ``s_i = [r_i < 0]`` (P = 1: the carry goes on into the next leaf) or
    its complement (P = 0: the next leaf starts afresh).
  * ``|x_i - t_i| = (r_i ^ s_i) + (b_i ^ s_i)`` (both cases of ``b_i`` and of the sign check
    out), so ``sum_i |x_i - t_i| = sum_i (r_i ^ s_i) + sum_i e_i`` with ``e_i = b_i ^ s_i``.
  * Each ``CCU2C`` half of a first-level adder reads both operands' bits and both their
    signs (``A ^ B`` plus ``C ^ D``: the generate of a half with four inputs is its propagate
    at C = D = 0, which is ``A ^ B`` exactly when the operand on C, D arrives with its sign
    in the right polarity; the leaves' chains are laid out so that one of each pair does).
    The complement costs no LUT and no stage; each correction ``e_i`` is the carry-in of one
    adder (a function of two signs, which the half that starts the carry computes).
  * N leaves need N corrections and a tree has N - 1 adders: one leaf is made absolute,
    ``(r ^ s) + e``, in the stage where the others wait, and joins the tree as a plain value.

  Adders share carry chains (nextpnr's feed cells start and end each chain); every chain
  input comes straight from a register and every sum goes straight into one.
"""

from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import check_config
from .ecp5_cells import CHAINED, Adder, Carry, Half, build_chains
from .layouts import vector_layout
from .registers import delay
from .trees import in_pairs


__all__ = ["DistanceUnit", "folded_distance", "CHAIN_HALVES"]


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
    other. With ``ecp5`` arithmetic the unit is an adder tree of carry cells instead
    (:func:`folded_distance`).
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
            folded_distance(m, cfg, self.vector, self.template, self.distance)
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

        def combine(level, k, pair):
            name = f"sum{level}_{k}"
            if len(pair) == 1:              # odd node out: register it to stay aligned
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
            return reg, leaves, carries

        (root, _, carries), level = in_pairs(nodes, combine)

        # The last carry, added in a stage of its own.
        assert len(carries) == 1 and level == cfg.tree_levels
        distance = Signal(cfg.distance_width, name="distance", reset_less=True)
        m.d.sync += distance.eq(root + carries[0])
        m.d.comb += self.distance.eq(distance)
        return m


# Longest chain, in halves (two per CCU2C), besides nextpnr's feed cells. Every chain costs
# two feed cells; a longer one lengthens the carry path that timing analysis sees, since it
# does not know that a P = 0 half cuts the carry (0.07 ns per CCU2C on an ECP5 of speed grade 6).
# Measured on the 16x16x8 core, LFE5U-25F, placement seeds 1-3: 36 (and 30, the same chains)
# 6,130 cells, 221.5/224.6/232.3 MHz, the slowest paths into the distance trees' long
# chains; 24: 6,210 cells, 218.8/240.0/237.0 MHz; 18: 6,418 cells, 239.8/240.8/230.9 MHz,
# the slowest paths then in the winner tree and the result queue.
CHAIN_HALVES = 18


class _Node:
    """An operand of the adder tree: its register, the number of leaves below it, the leaf
    whose sign folds it (``None``: a plain value), the adder that makes it and its children
    (``None`` and none for a leaf or a node that is only registered)."""

    def __init__(self, value, leaves, folded=None, adder=None, children=(), leaf=None):
        self.value = value
        self.leaves = leaves
        self.folded = folded
        self.adder = adder
        self.children = children
        self.leaf = leaf            # a leaf's index (leaf 0: made absolute by ``adder``)

    def post_order(self):
        for child in self.children:
            yield from child.post_order()
        if self.adder is not None:
            yield self.adder


def folded_distance(m, config, vector, template, distance, *, name="dist",
                    max_halves=CHAIN_HALVES):
    """Add to module ``m`` the logic that drives ``distance`` from the N values of
    ``vector`` and ``template``, ``config.distance_latency`` cycles later, as registers.
    Returns the number of carry chains."""
    return _FoldedTree(m, config, name, max_halves).build(vector, template, distance)


class _FoldedTree:
    """The parts of :func:`folded_distance`, built in this order: the leaves (stage 1),
    leaf 0's absolute value and the first pairs (stage 2), the tree's levels, the chains
    the adders go into, the corrections each adder's carry-in takes, the registers."""

    def __init__(self, m, config, name, max_halves):
        self.m = m
        self.config = config
        self.name = name
        self.max_halves = max_halves
        W, N = config.width, config.dims
        # An even number of leaves to a chain, as many as fit with the adders that pair them.
        self.per_chain = per_chain = max(2, (max_halves // (3 * (W + 1))) * 2)
        # Leaf i's flag register holds s_i, or its complement; it subtracted the sign of
        # leaf i - 1 when chained to it.
        self.inverted = [i % per_chain % 2 == 1 for i in range(N)]
        self.chained = [i % per_chain % 2 == 1 for i in range(N)]
        self.values = [Signal(W, name=f"{name}_leaf{i}", reset_less=True) for i in range(N)]
        self.flag_regs = [Signal(name=f"{name}_leaf{i}_flag", reset_less=True)
                          for i in range(N)]
        self._flags = {}
        self.tree = []          # (adder, stage, output register)

    def build(self, vector, template, distance):
        leaf_chains, leaves = self._leaves(vector, template)
        nodes, stage, stage_two = self._stage_two()
        top, root = self._levels(nodes, stage)
        leaf_chains, tree_chains = self._chains(top, leaf_chains, stage_two)
        self.first_ids = {id(chain[0]) for chain in tree_chains + leaf_chains}
        assert self._assign(top) == []

        m, W = self.m, self.config.width
        build_chains(m, self.name, leaf_chains + tree_chains)
        for i, leaf in enumerate(leaves):
            m.d.sync += self.values[i].eq(Cat(*(h.sum for h in leaf.halves[:W])))
            m.d.sync += self.flag_regs[i].eq(leaf.carry_out if self.inverted[i]
                                             else leaf.halves[W].sum)
        for add, _, reg in self.tree:
            bits = [h.sum for h in add.halves]
            if len(reg) > len(bits):
                bits.append(add.carry_out)
            m.d.sync += reg.eq(Cat(*bits))
        m.d.comb += distance.eq(root)
        return len(leaf_chains) + len(tree_chains)

    def register(self, value, label):
        reg = Signal(len(value), name=label, reset_less=True)
        self.m.d.sync += reg.eq(value)
        return reg

    def _leaves(self, vector, template):
        """Stage 1: leaves, r = x + ~t + carry, a few to a chain. Signed values are taken as
        unsigned ones with their top bits flipped (x - t is unchanged), which only changes
        that bit's generate. A leaf at an even place in its chain ends in a half with P = 1
        (its sum is the sign s; the carry goes on into the next leaf, which subtracts s); at
        an odd place the half after it has P = 0 (its sum is the complement of s) and starts
        the next leaf's carry afresh. Returns ``(chains of leaves, leaves)``."""
        config = self.config
        W = config.width
        leaf_chains, leaves = [], []
        for i in range(config.dims):
            place = i % self.per_chain
            if place == 0:
                leaf_chains.append([])
            halves = []
            for k in range(W):
                flip = config.signed and k == W - 1
                halves.append(Half(a=vector[i][k], b=template[i][k],
                                   propagate=lambda a, b, c: a ^ b ^ 1,
                                   generate=(lambda a, b: 1 - a) if flip else (lambda a, b: a)))
            if place % 2 == 0:
                halves.append(Half(propagate=lambda a, b, c: 1))
            leaf = Adder(halves, CHAINED if place % 2 else 1)
            leaf_chains[-1].append(leaf)
            leaves.append(leaf)
        return leaf_chains, leaves

    def flag(self, i, stage):
        """Leaf i's flag, delayed to be readable in ``stage`` (stage 2 reads stage 1's)."""
        if stage == 2:
            return self.flag_regs[i]
        if (i, stage) not in self._flags:
            self._flags[i, stage] = self.register(self.flag(i, stage - 1),
                                                  f"{self.name}_leaf{i}_flag_s{stage}")
        return self._flags[i, stage]

    def operand(self, node, j, stage):
        """Node's bit j as an operand: its inputs, and its value as a function of them."""
        if j >= len(node.value):
            return (0, 0), lambda a, b: 0
        if node.folded is None:
            return (node.value[j], 0), lambda a, b: a
        inv = int(self.inverted[node.folded])
        return (node.value[j], self.flag(node.folded, stage)), \
            lambda a, b, inv=inv: a ^ b ^ inv

    def combine(self, u, v, stage, label):
        """The adder of u + v in ``stage``: u on A, B (plain, or folded by either polarity of
        its sign), v on C (plain) or on C, D (folded by its sign, whose polarity makes the
        generate right)."""
        inverted = self.inverted
        if u.folded is None and v.folded is not None:
            u, v = v, u
        if v.folded is not None and inverted[v.folded]:
            u, v = v, u
        assert v.folded is None or not inverted[v.folded]
        value_max = (1 << self.config.width) - 1
        width = ((u.leaves + v.leaves) * value_max).bit_length()
        halves = []
        for j in range(max(len(u.value), len(v.value))):
            (a, b), fu = self.operand(u, j, stage)
            (c, d), fv = self.operand(v, j, stage)
            if v.folded is None or j >= len(v.value):
                halves.append(Half(a=a, b=b, c=c, generate=fu,
                                   propagate=lambda a, b, c, fu=fu: fu(a, b) ^ c))
            else:
                halves.append(Half(a=a, b=b, c=c, d=d, generate=fu,
                                   propagate=lambda a, b, c, d, fu=fu: fu(a, b) ^ c ^ d))
        add = Adder(halves, None)
        reg = Signal(width, name=label, reset_less=True)
        self.tree.append((add, stage, reg))
        return _Node(reg, u.leaves + v.leaves, adder=add, children=(u, v))

    def _stage_two(self):
        """Stage 2: leaf 0 made absolute, (r ^ s) + e, beside the first adders of the other
        leaves' pairs (pairs within a chain of leaves when there is an odd leaf out: leaf
        1). Returns ``(nodes, stage, {chain of leaves: the stage-2 adders that read its
        leaves})``."""
        W, N, name = self.config.width, self.config.dims, self.name
        per_chain, values = self.per_chain, self.values
        zero = _Node(values[0], 1, folded=0)
        halves = []
        for j in range(W):
            (a, b), f0 = self.operand(zero, j, 2)
            halves.append(Half(a=a, b=b, generate=f0,
                               propagate=lambda a, b, c, f0=f0: f0(a, b)))
        absolute = Adder(halves, None)
        absolute_reg = Signal(W, name=f"{name}_abs0", reset_less=True)
        self.tree.append((absolute, 2, absolute_reg))
        # Pairs of neighbours in a chain of leaves (a sign and a complemented sign: one of
        # each pair lands on C, D); leaf 1, and a last leaf without a neighbour, wait a stage.
        pairs = [(i, i + 1) for i in range(2, N - 1, 2) if i % per_chain + 1 < per_chain]
        paired = {i for pair in pairs for i in pair}
        waiting = [i for i in range(1, N) if i not in paired]
        stage_two = {0: [absolute]}
        nodes = []
        for i, j in pairs:
            node = self.combine(_Node(values[i], 1, folded=i, leaf=i),
                                _Node(values[j], 1, folded=j, leaf=j), 2,
                                f"{name}_sum1_{i // 2}")
            stage_two.setdefault(i // per_chain, []).append(node.adder)
            nodes.append(node)
        wait = {i: _Node(self.register(values[i], f"{name}_leaf{i}_s2"), 1, i,
                         children=(_Node(values[i], 1, folded=i, leaf=i),))
                for i in waiting}
        # Leaf 1 meets leaf 0's absolute value; the other waiting leaf goes last (never two
        # folded operands with complemented signs together).
        nodes = ([_Node(absolute_reg, 1, adder=absolute, leaf=0)]
                 + [wait[i] for i in waiting[:1]] + nodes + [wait[i] for i in waiting[1:]])
        return nodes, 2 if N > 1 else 1, stage_two

    def _levels(self, nodes, stage):
        """Stages 3 ...: tree levels, pairing ``nodes`` down to the root (an odd node out is
        registered to stay aligned). Returns ``(the root node, the distance)``: the root's
        value, delayed to the latency when the tree is a level short of a balanced one."""
        first = stage

        def combine(level, k, pair):
            label = f"{self.name}_sum{first + level - 1}_{k}"
            if len(pair) == 1:
                node, = pair
                return _Node(self.register(node.value, label), node.leaves, node.folded,
                             children=(node,))
            return self.combine(*pair, first + level, label)

        top, levels = in_pairs(nodes, combine)
        stage = max(first + levels, 2)
        root = top.value
        while stage < self.config.distance_latency:
            stage += 1
            root = self.register(root, f"{self.name}_root_s{stage}")
        assert stage == self.config.distance_latency
        return top, root

    def _chains(self, top, leaf_chains, stage_two):
        """The carry chains: ``(chains of leaves with the stage-2 adders at their front,
        chains of the other adders)``. A subtree whose adders fit one chain goes into one
        (its sums then reach their adders within the chain's span); the adders above such
        subtrees go one by one. Then as few chains as they fit into (first fit, largest
        first): each costs two feed cells."""
        max_halves = self.max_halves
        self.stage_of = stage_of = {id(add): s for add, s, _ in self.tree}

        def size(adders):
            return sum(len(add.halves) for add in adders) + len(adders) - 1

        blocks, above = [], []
        # The stage-2 adders ride at the front of their leaves' chain (they read sums made
        # in it); the others are laid out below.
        riding = {id(add) for adders in stage_two.values() for add in adders}
        leaf_chains = [stage_two.get(k, []) + chain for k, chain in enumerate(leaf_chains)]

        def lay_out(node):
            adders = [add for add in node.post_order() if id(add) not in riding]
            if not adders:
                return
            if size(adders) <= max_halves:
                blocks.append(adders)
                return
            for child in node.children:
                lay_out(child)
            if node.adder is not None and id(node.adder) not in riding:
                above.append([node.adder])

        lay_out(top)
        tree_chains = []
        for adders in sorted(blocks + above, key=size, reverse=True):
            fits = [chain for chain in tree_chains if size(chain + adders) <= max_halves]
            if fits:
                fits[0].extend(adders)
            else:
                tree_chains.append(list(adders))
        # Within a chain, the adders of later stages first: timing analysis sees a path from
        # every adder's inputs through the rest of the chain, and the late adders read sums
        # made in their own chain (short wires), the early ones sums from other chains (long
        # ones).
        for chain in tree_chains:
            chain.sort(key=lambda add: -stage_of[id(add)])
        order = [add for chain in tree_chains for add in chain] + [
            add for chain in leaf_chains for add in chain if id(add) in riding]
        assert sorted(map(id, order)) == sorted(id(add) for add, _, _ in self.tree)
        return leaf_chains, tree_chains

    # -- corrections: e_i = b_i ^ s_i, each the carry-in of one adder whose subtree holds
    # leaf i (so that no sum outgrows its subtree's width): a subtree of L leaves has L - 1
    # adders (L with leaf 0's), so each passes one correction up to its parent, which takes
    # one of the two it gets. A chain's first carry-in is a plain signal (nextpnr's feed-in
    # makes the carry from it): s_i itself, from a leaf that starts afresh and holds s, not
    # its complement; failing that, one computed into a register a stage early. The others
    # are computed by the half that starts the carry. --

    def _plain(self, i):
        return not self.chained[i] and not self.inverted[i]

    def _terms(self, i):
        found = [(i, int(self.inverted[i]))]
        if self.chained[i]:
            found.append((i - 1, int(self.inverted[i - 1])))
        return found

    def _give(self, add, i):
        stage = self.stage_of[id(add)]
        if id(add) in self.first_ids:
            if self._plain(i):
                add.carry_in = self.flag(i, stage)
                return
            # Never leaf 0's adder, in stage 2: its correction is plain.
            assert stage > 2
            value = 0
            for j, inv in self._terms(i):
                value = value ^ self.flag(j, stage - 1) ^ inv
            add.carry_in = self.register(value, f"{self.name}_correction{i}_s{stage}")
            return
        (j0, i0), *more = self._terms(i)
        if more:
            (j1, i1), = more
            add.carry_in = Carry(self.flag(j0, stage), self.flag(j1, stage),
                                 lambda a, b, i0=i0, i1=i1: a ^ b ^ i0 ^ i1)
        else:
            add.carry_in = Carry(self.flag(j0, stage), 0, lambda a, b, i0=i0: a ^ i0)

    def _assign(self, node):
        """Give the adders of ``node``'s subtree corrections of its leaves; return the ones
        left over."""
        if node.leaf is not None:
            if node.adder is None:
                return [node.leaf]
            self._give(node.adder, node.leaf)         # leaf 0 made absolute
            return []
        left = [i for child in node.children for i in self._assign(child)]
        if node.adder is None:
            return left
        # A chain's first adder takes a plain one if it can; any other adder leaves the
        # plain ones to the adders above.
        if id(node.adder) in self.first_ids:
            pick = next((i for i in left if self._plain(i)), left[0])
        else:
            pick = next((i for i in left if not self._plain(i)), left[0])
        self._give(node.adder, pick)
        left.remove(pick)
        return left
