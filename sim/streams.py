"""Async helpers that drive and watch valid/ready streams in Amaranth testbenches.

A :class:`Port` is a stream's signals: :func:`stream_port` takes them from a component's
``lib.stream`` interface, :func:`flat_port` from the flat ports of the exported core. Every
testbench of madvq (the Amaranth simulator backend and the tests) moves data through
these, so the stream rules are implemented once: a producer raises ``valid`` with its data and
holds both until the clock edge where ``ready`` is seen, and only then lowers ``valid``;
``valid`` never waits on ``ready``.
"""

from dataclasses import dataclass

from amaranth.hdl import Value


__all__ = ["Port", "stream_port", "flat_port", "stream_put", "stream_get"]


@dataclass(frozen=True)
class Port:
    """One stream as plain signals: ``valid``, ``ready`` and the data signals (a tuple)."""
    valid: object
    ready: object
    data: tuple = ()


def stream_port(interface, fields=None):
    """A :class:`Port` of an Amaranth stream (a ``lib.stream`` interface, e.g. a
    :class:`~madvq.hdl.core.MADCore`'s ``vector``): its payload whole, or the payload's
    ``fields`` in order. Each as a plain value: integers go in and come out, packed as in the
    exported core's ports (:func:`~madvq.sim.packing.pack_rows` for a vector)."""
    payload = interface.payload
    data = (payload,) if fields is None else tuple(payload[f] for f in fields)
    return Port(interface.valid, interface.ready, tuple(Value.cast(d) for d in data))


def flat_port(core, name, fields):
    """The stream ``name`` of a :class:`~madvq.hdl.ports.FlatMADCore` with data ports
    ``name_<field>`` (or ``name`` itself when the field is empty)."""
    data = tuple(getattr(core, f"{name}_{f}" if f else name) for f in fields)
    valid = getattr(core, f"{name}_valid")
    ready = getattr(core, f"{name}_ready")
    return Port(valid, ready, data)


async def stream_put(ctx, port, values, *, may_start=None):
    """Transfer one item. ``values`` go to ``port.data`` in order. ``may_start(ctx)``, when
    given, is asked each cycle before ``valid`` rises (for stall patterns)."""
    if may_start is not None:
        while not may_start(ctx):
            await ctx.tick()
    for signal, value in zip(port.data, values):
        ctx.set(signal, value)
    ctx.set(port.valid, 1)
    # The same as `await ctx.tick().until(port.ready)`, written out: a simulation abandoned
    # while this waits (a reported hang) then closes the coroutine cleanly, where `until`
    # raises "aclose(): asynchronous generator is already running" at garbage collection.
    while not (await ctx.tick().sample(port.ready))[-1]:
        pass
    ctx.set(port.valid, 0)


async def stream_get(ctx, port, *, until=None):
    """Receive one item with ``ready`` held high: the data values at the transfer, as a tuple.
    ``until``, an extra Amaranth condition, ends the wait early (then ``None`` is returned)."""
    ctx.set(port.ready, 1)
    cond = port.valid if until is None else port.valid | until
    *values, valid = await ctx.tick().sample(*port.data, port.valid).until(cond)
    return tuple(values) if valid else None
