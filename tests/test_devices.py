"""canonical_device: equal devices share one object; a device whose == misbehaves is never merged
(nor makes signature raise); hashable devices are looked up in a dict, not compared with all before."""

from __future__ import annotations

import numpy as np

from xpgrad._core.tensor import canonical_device, signature
from xpgrad.backends import get_backend


class Picky:
    """Hashable; == raises between devices of different platforms (as some libraries' objects do)."""

    def __init__(self, platform: str) -> None:
        self.platform = platform

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Picky) and other.platform != self.platform:
            raise TypeError("cannot compare devices of different platforms")
        return isinstance(other, Picky)

    def __hash__(self) -> int:
        return 0  # every Picky collides: the dict compares them


class ArrayEq:
    """Unhashable; == answers elementwise, with an array (bool() of it raises)."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, v: list[int]) -> None:
        self.v = np.array(v)

    def __eq__(self, other: object) -> object:
        return self.v == other.v if isinstance(other, ArrayEq) else NotImplemented


def test_a_device_whose_equality_raises_gets_a_signature() -> None:
    bk = get_backend("numpy")
    a, b = Picky("gpu"), Picky("tpu")
    sa, sb = signature(bk, a, (3,), np.float64), signature(bk, b, (3,), np.float64)
    assert sa != sb and canonical_device(b) is b


def test_a_device_whose_equality_is_an_array_is_not_merged() -> None:
    a, b = ArrayEq([1, 2]), ArrayEq([1, 2])  # equal everywhere: ``all(a == b)`` would merge them; the rule does not
    assert canonical_device(a) is a and canonical_device(b) is b


def test_hashable_devices_are_looked_up_not_scanned() -> None:
    """Many distinct hashable devices (a library making a new one per array, equal by identity) go to the
    dict: the list that is scanned holds only unhashable ones, so a lookup stays constant time."""
    from xpgrad._core import tensor as _tensor

    class Fresh:  # equality by identity: a new device object is a new device
        pass

    bk = get_backend("numpy")
    before = len(_tensor._unhashable)
    sigs = {signature(bk, Fresh(), (3,), np.float64) for _ in range(500)}
    assert len(sigs) == 500 and len(_tensor._unhashable) == before


def test_tensor_device_is_the_arrays_own_object() -> None:
    """``with t.device:`` keeps state on the object (CuPy), so a Tensor hands out its array's own device
    object, not the canonical one its memo keys on."""
    import array_api_strict as xps

    import xpgrad

    first = xpgrad.Tensor(xps.ones(3, device=xps.Device("device1")))
    a = xps.ones(3, device=xps.Device("device1"))  # an equal device, another object
    t = xpgrad.Tensor(a)
    assert t.device is a.device and t.device == first.device and t._device is first._device


def test_function_refuses_arguments_on_two_devices() -> None:
    """A call's arguments on two devices of one backend are refused at the call, naming both arguments,
    as eager ops refuse them; they reached the first op combining them (a backend error inside the plan)."""
    import array_api_strict as xps
    import pytest

    import xpgrad

    p, q = (xpgrad.placeholder(shape=(3,), dtype="float64", backend="array_api_strict") for _ in range(2))
    f = xpgrad.function([p, q], [p + q])
    a = xps.ones(3, dtype=xps.float64, device=xps.Device("device1"))
    b = xps.ones(3, dtype=xps.float64)
    with pytest.raises(xpgrad.BackendMismatchError, match=r"argument 1 is on device .*CPU_DEVICE.* argument 0"):
        f(a, b)
    assert f(a, a)[0].device == a.device and f(b, b)[0].device == b.device


def test_check_grads_puts_a_number_argument_with_the_arrays() -> None:
    """A Python number among check_grads' arguments becomes a leaf on the backend and device of the array
    arguments; it was made on the default backend, so ``f`` failed combining it with them."""
    import array_api_strict as xps

    import xpgrad

    a = xps.asarray([0.3, 1.2], dtype=xps.float64, device=xps.Device("device1"))
    seen = []

    def f(x: xpgrad.Tensor, k: xpgrad.Tensor) -> xpgrad.Tensor:
        seen.append(k.device)
        return xpgrad.sin(x) * k

    xpgrad.check_grads(f, a, 2.0, order=2)
    xpgrad.check_grads(f, a, [2.0, 3.0], order=1)
    assert seen and all(d == a.device for d in seen)


def test_function_called_with_numbers_runs_on_the_graphs_device() -> None:
    """Python numbers fed to placeholders of no declared device are made on the device of the graph (here a
    captured leaf's), as an eager op takes a number to its arrays; they were made on the default device, and
    the first op meeting the leaf failed inside the backend."""
    import array_api_strict as xps

    import xpgrad

    d1 = xps.Device("device1")
    w = xpgrad.Tensor(xps.asarray([1.0, 2.0], dtype=xps.float64, device=d1))
    p = xpgrad.placeholder(shape=(), dtype="float64", backend="array_api_strict")
    q = xpgrad.placeholder(shape=(2,), dtype="float64", backend="array_api_strict")
    out = [p * w + q, xpgrad.grad(xpgrad.sum(p * w * q), [p])[0]]
    for engine in ("function", "unfused"):
        f = xpgrad.function([p, q], out) if engine == "function" else xpgrad.fuse([p, q], out, engine="unfused")
        got = f(2.0, [0.5, 0.25])
        assert [g.device for g in got] == [d1, d1]
        assert xps.all(got[0] == xps.asarray([2.5, 4.25], dtype=xps.float64, device=d1))


def test_function_refuses_a_graph_on_two_devices_or_backends() -> None:
    """Outputs built apart on two devices (or backends) are refused when the function is made; a call ran
    every node on the call's device, so one output came back moved (eager leaves it where it is) or, with an
    integer leaf of another backend, the cast to its dtype failed inside the backend."""
    import array_api_strict as xps
    import numpy as np
    import pytest

    import xpgrad

    x = xpgrad.Tensor(xps.asarray([0.3, 0.5], dtype=xps.float64, device=xps.Device("device1")))
    here = xpgrad.Tensor(xps.asarray([1, 2]))  # the default device
    with pytest.raises(xpgrad.BackendMismatchError, match="two devices"):
        xpgrad.function([x], [x * 2.0, here * 1.5])
    with pytest.raises(xpgrad.BackendMismatchError, match="two backends"):
        xpgrad.function([x], [x * 2.0, xpgrad.Tensor(np.array([1, 2])) * 1.5])
    moved = xpgrad.function([x], [x * 2.0, here.to_device(x.device) * 1.5])(x.value)
    assert [v.device for v in moved] == [x.device, x.device]
