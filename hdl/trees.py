"""Balanced trees built a level at a time: the adder trees of the distance units, the
winner tree and the top-K tree all pair their nodes this way.

:func:`in_pairs` fixes the shape (which nodes meet at which level, and which one waits);
the caller says what a pair and an odd node out become, so each tree keeps its own
registers and names.
"""


__all__ = ["in_pairs"]


def in_pairs(nodes, combine):
    """Reduce ``nodes`` to one node, a level at a time. Node ``k`` of level ``n`` (1, 2, ...)
    is ``combine(n, k, pair)``, ``pair`` being nodes ``2k`` and ``2k + 1`` of the level below,
    or node ``2k`` alone (a list of one: the odd node out, which the caller delays by a level
    to keep the tree aligned). Nodes are combined in order, level by level. Returns
    ``(root, levels)``; zero levels for a single node."""
    nodes = list(nodes)
    if not nodes:
        raise ValueError("a tree needs at least one node")
    level = 0
    while len(nodes) > 1:
        level += 1
        nodes = [combine(level, k, nodes[i:i + 2])
                 for k, i in enumerate(range(0, len(nodes), 2))]
    return nodes[0], level
