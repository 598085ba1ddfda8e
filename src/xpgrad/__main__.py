"""`python -m xpgrad`: the seed example, its gradient graph, an array example, and the backends here."""

from __future__ import annotations

import xpgrad
from xpgrad import Tensor
from xpgrad.backends import _MODULES


def main() -> None:
    print("== The seed example ==")
    x = Tensor(3, name="x")
    y = Tensor(5, name="y")
    z1 = x + y
    z2 = z1 * y
    print(x, y)
    print(z2)
    g = z2.grad(y)
    print(g)
    print("\n== The gradient graph of z2.grad(y): d/dy (x + y) * y ==")
    xpgrad.show(g)

    bk = xpgrad.default_backend()
    print(f"\n== An array example on the default backend ({bk}) ==")
    a = Tensor([0.5, 1.0, 2.0], name="a")
    b = Tensor([[1.0], [2.0]], name="b")
    f = xpgrad.sum(xpgrad.sin(a) * b + xpgrad.exp(a * b) / (1 + b * b))
    ga, gb = xpgrad.grad(f, [a, b])
    print("f = sum(sin(a)*b + exp(a*b)/(1+b*b)) with a of shape (3,), b of shape (2, 1)")
    print("f      ", f)
    print("df/da  ", ga)
    print("df/db  ", gb.numpy().tolist())
    print("d2f/da2", xpgrad.sum(ga).grad(a))

    print("\n== Backends ==")
    for name, mod in _MODULES.items():
        why = mod.probe()
        print(f"{name:18} {'usable' if why is None else 'unavailable: ' + why}")
    print(f"default: {bk} (set XPGRAD_BACKEND or call xpgrad.set_default_backend; 'auto' picks CuPy when usable)")


if __name__ == "__main__":
    main()
