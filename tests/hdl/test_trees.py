"""The shape of madvq's balanced trees (:func:`madvq.hdl.trees.in_pairs`)."""

import re

import pytest

from madvq.hdl.trees import in_pairs


def _trace(n):
    calls = []

    def combine(level, k, pair):
        calls.append((level, k, tuple(pair)))
        return f"({'+'.join(pair)})" if len(pair) == 2 else f"[{pair[0]}]"

    root, levels = in_pairs([str(i) for i in range(n)], combine)
    return root, levels, calls


def test_a_single_node_is_its_own_root():
    assert _trace(1) == ("0", 0, [])


def test_five_nodes_take_three_levels_and_the_odd_one_waits():
    root, levels, calls = _trace(5)
    assert levels == 3
    assert root == "(((0+1)+(2+3))+[[4]])"
    # Left to right, a level at a time.
    assert [(level, k) for level, k, _ in calls] == \
        [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (3, 0)]


@pytest.mark.parametrize("n", range(1, 40))
def test_levels_are_the_ceiling_of_log2(n):
    root, levels, calls = _trace(n)
    assert levels == (n - 1).bit_length()
    # Every node once, in order.
    assert [int(x) for x in re.findall(r"\d+", root)] == list(range(n))
    assert sum(len(pair) == 2 for _, _, pair in calls) == n - 1


def test_no_nodes_is_an_error():
    with pytest.raises(ValueError, match="at least one node"):
        in_pairs([], lambda level, k, pair: pair)
