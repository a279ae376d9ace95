import pytest

from madvq.hdl.config import CoreConfig, ceil_log2


def test_defaults():
    cfg = CoreConfig()
    assert (cfg.dims, cfg.templates, cfg.width, cfg.signed) == (16, 16, 8, False)
    assert cfg.templates_per_cycle == 16
    assert cfg.distance_width == 12
    assert cfg.index_width == 4
    assert cfg.cycles_per_vector == 1
    assert cfg.codebook_storage == "registers"


@pytest.mark.parametrize("n, k", [(0, 0), (1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (16, 4),
                                  (17, 5)])
def test_ceil_log2(n, k):
    assert ceil_log2(n) == k


@pytest.mark.parametrize("dims, width, expected", [(1, 1, 1), (1, 8, 8), (3, 4, 6), (16, 8, 12),
                                                   (17, 8, 13), (16, 32, 36)])
def test_distance_width_holds_the_largest_distance(dims, width, expected):
    cfg = CoreConfig(dims=dims, templates=2, width=width)
    assert cfg.distance_width == expected
    assert cfg.distance_max < 1 << cfg.distance_width
    assert cfg.distance_max == dims * ((1 << width) - 1)


@pytest.mark.parametrize("templates, per_cycle, rounds", [(1, 1, 1), (5, 1, 5), (5, 2, 3),
                                                          (16, 3, 6), (16, 16, 1)])
def test_rounds(templates, per_cycle, rounds):
    cfg = CoreConfig(templates=templates, templates_per_cycle=per_cycle)
    assert cfg.rounds == cfg.cycles_per_vector == rounds


def test_value_ranges():
    assert (CoreConfig(width=4).value_min, CoreConfig(width=4).value_max) == (0, 15)
    cfg = CoreConfig(width=4, signed=True)
    assert (cfg.value_min, cfg.value_max) == (-8, 7)
    cfg = CoreConfig(width=1, signed=True)
    assert (cfg.value_min, cfg.value_max) == (-1, 0)


def test_latency_is_the_sum_of_the_stages():
    # Staging and input registers, |x-t| register, 4 adder levels, last carry, 4 comparison
    # levels, result queue (2).
    assert CoreConfig().latency_cycles == 2 + 2 + 4 + 4 + 2
    # P < M: input register, 3 rounds, 1 comparison level, running minimum.
    cfg = CoreConfig(dims=3, templates=5, templates_per_cycle=2)
    assert cfg.latency_cycles == 1 + (2 + 2) + 1 + 2 + 1 + 2
    # ecp5 arithmetic: a stage before the adder tree; a stage before the winner tree and
    # two cycles per comparison level.
    # The result queue in distributed RAM takes one cycle.
    cfg = CoreConfig(arithmetic="ecp5")
    assert cfg.latency_cycles == 2 + (2 + 4) + (1 + 2 * 4) + 1
    cfg = CoreConfig(dims=3, templates=5, templates_per_cycle=2, arithmetic="ecp5")
    assert cfg.latency_cycles == 1 + (2 + 2) + (1 + 2 * 1) + 2 + 1 + 1
    assert CoreConfig(dims=3, templates=5, templates_per_cycle=1,
                      arithmetic="ecp5").winner_latency == 0


def test_round_trip_through_dict():
    cfg = CoreConfig(dims=3, templates=5, width=4, signed=True, templates_per_cycle=2,
                     distances=True, storage="ram")
    assert CoreConfig.from_dict(cfg.to_dict()) == cfg


def test_default_name():
    assert CoreConfig().default_name == "madvq_16x16x8u_p16"
    cfg = CoreConfig(dims=3, templates=5, width=4, signed=True, templates_per_cycle=2,
                     distances=True, storage="ram")
    assert cfg.default_name == "madvq_3x5x4s_p2_all_ram"


# Every refusal: (parameters, exception, the whole message). A wrong type is a TypeError, a
# value out of range a ValueError; both name the parameter, the allowed range and the value.
REFUSALS = [
    (dict(dims=0), ValueError, "dims must be an integer from 1 to 1024, not 0"),
    (dict(dims=1_000_000_000, templates=1), ValueError,
     "dims must be an integer from 1 to 1024, not 1000000000"),
    (dict(dims=2.5), TypeError, "dims must be an integer from 1 to 1024, not 2.5"),
    (dict(dims=True), TypeError, "dims must be an integer from 1 to 1024, not True"),
    (dict(templates=-1), ValueError, "templates must be an integer from 1 to 4096, not -1"),
    (dict(dims=1, templates=4097, templates_per_cycle=1), ValueError,
     "templates must be an integer from 1 to 4096, not 4097"),
    (dict(templates="4"), TypeError, "templates must be an integer from 1 to 4096, not '4'"),
    # A fully parallel 1024 x 16 core is 16,384 cells: one more template is too many.
    (dict(dims=1024, templates=17), ValueError,
     "templates_per_cycle x dims (distance cells) must be at most 16,384, not 17 x 1024 = "
     "17,408; use fewer templates_per_cycle"),
    (dict(dims=65, templates=4096, templates_per_cycle=1, storage="ram"), ValueError,
     "templates x dims (codebook values) must be at most 262,144, not 4096 x 65 = 266,240"),
    (dict(width=0), ValueError, "width must be an integer from 1 to 32, not 0"),
    (dict(width=33), ValueError, "width must be an integer from 1 to 32, not 33"),
    (dict(width=None), TypeError, "width must be an integer from 1 to 32, not None"),
    (dict(signed=1), TypeError, "signed must be True or False, not 1"),
    (dict(distances="yes"), TypeError, "distances must be True or False, not 'yes'"),
    (dict(templates_per_cycle=0), ValueError,
     "templates_per_cycle must be an integer from 1 to templates (16), not 0"),
    (dict(templates=5, templates_per_cycle=6), ValueError,
     "templates_per_cycle must be an integer from 1 to templates (5), not 6"),
    (dict(templates_per_cycle=2.0), TypeError,
     "templates_per_cycle must be an integer from 1 to templates (16), not 2.0"),
    (dict(storage="bram"), ValueError,
     "storage must be one of 'auto', 'registers', 'ram', not 'bram'"),
]


@pytest.mark.parametrize("params, error, message", REFUSALS,
                         ids=[message.split(",")[0] for _, _, message in REFUSALS])
def test_refusals(params, error, message):
    with pytest.raises(error) as info:
        CoreConfig(**params)
    assert type(info.value) is error and str(info.value) == message


def test_largest_parameters():
    # Each limit on its own is reachable.
    assert CoreConfig(dims=1024, templates=16).dims == 1024
    assert CoreConfig(dims=4, templates=4096, templates_per_cycle=16).templates == 4096
    assert CoreConfig(dims=64, templates=4096, templates_per_cycle=256).rounds == 16
    assert CoreConfig(dims=256, templates=1024, templates_per_cycle=64,
                      storage="ram").codebook_storage == "ram"


def test_storage_ram_needs_rounds():
    with pytest.raises(ValueError, match=r"^storage 'ram' needs templates_per_cycle < "
                                         r"templates .*not templates_per_cycle=16 with "
                                         r"templates=16$"):
        CoreConfig(storage="ram")


def test_frozen():
    cfg = CoreConfig()
    with pytest.raises(AttributeError):
        cfg.dims = 3


@pytest.mark.parametrize("params", [{}, {"storage": "auto"}, {"storage": "ram",
                                                              "templates_per_cycle": 4},
                                    {"storage": "ram", "templates_per_cycle": 4,
                                     "ram_lanes": 3, "arithmetic": "ecp5", "signed": True},
                                    {"distances": True, "templates_per_cycle": 8}])
def test_a_config_survives_its_dictionary(params):
    cfg = CoreConfig(**params)
    assert CoreConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.storage in ("registers", "ram")
