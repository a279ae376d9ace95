import io

import pytest

from madvq.sim.vcd import VCDWindow


HEADER = """$timescale 1 fs $end
$scope module top $end
$var wire 1 ! a $end
$var wire 4 " b $end
$upscope $end
$enddefinitions $end
"""
BODY = """#0
$dumpvars
0!
b0 "
$end
#10
1!
#20
b101 "
#30
0!
#40
b1 "
#50
"""


def cut(start, stop, chunk=7):
    out = io.StringIO()
    window = VCDWindow(out, start, stop)
    text = HEADER + BODY
    # The writer may hand over text in any pieces.
    for k in range(0, len(text), chunk):
        window.write(text[k:k + chunk])
    window.close()
    return out.getvalue(), window


def test_window_starts_with_every_value_and_keeps_only_its_changes():
    text, window = cut(15, 40)
    assert text == HEADER + "#15\n$dumpvars\n1!\nb0 \"\n$end\n#20\nb101 \"\n#30\n0!\n"
    assert window.finished


def test_window_from_zero_to_the_end_keeps_everything():
    text, window = cut(0, None)
    assert text == HEADER + "#0\n$dumpvars\n0!\nb0 \"\n$end\n" + BODY.split("$end\n", 1)[1]
    assert not window.finished


def test_window_after_the_end_is_the_header_only():
    text, _ = cut(50, 60)
    assert text == HEADER


def test_timescale_converts_femtoseconds():
    out = io.StringIO()
    window = VCDWindow(out, 15_000, None)
    window.write(HEADER.replace("1 fs", "1 ps") + BODY)
    window.close()
    assert out.getvalue().startswith(HEADER.replace("1 fs", "1 ps") + "#15\n")


def test_unknown_timescale():
    with pytest.raises(ValueError, match=r"unsupported VCD timescale '3fs'"):
        VCDWindow(io.StringIO(), 0).write("$timescale 3 fs $end\n")
