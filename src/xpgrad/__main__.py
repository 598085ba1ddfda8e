"""`python -m xpgrad`: the seed example, its gradient graph (as text and as pictures), an array
example, and the backends here. ``python -m xpgrad --pictures DIR`` says where the pictures go
(default: ./xpgrad-seed-graphs)."""

from __future__ import annotations

import sys
from pathlib import Path

import xpgrad
from xpgrad import Tensor
from xpgrad._dot import to_dot
from xpgrad._render import _pipe
from xpgrad.backends import _MODULES


def pictures(z2: Tensor, g: Tensor, out: Path) -> None:
    """Write the seed's two pictures (forward graph of z2, gradient graph of z2.grad(y)) as SVG; without
    Graphviz, say what to install and leave no directory behind."""
    try:  # drawn before anything is written: the directory is made only for pictures
        svgs = {
            "forward_z2.svg": _pipe(to_dot(z2, title="forward graph: z2 = (x + y) * y"), "svg"),
            "gradient_z2_dy.svg": _pipe(to_dot(g, title="gradient graph: z2.grad(y) = (x + y) + y"), "svg"),
        }
    except xpgrad.GraphvizUnavailableError as e:
        print(f"(no pictures: {e})")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, svg in svgs.items():
        (out / name).write_bytes(svg)
    fwd, back = (out / name for name in svgs)
    print(f"pictures of both graphs written to {fwd.resolve()} and {back.resolve()}")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[args.index("--pictures") + 1]) if "--pictures" in args else Path("xpgrad-seed-graphs")
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
    print("as an expression:", g.expr(), "  (forward:", z2.expr() + ")")
    pictures(z2, g, out)

    bk = xpgrad.default_backend()
    print(f"\n== An array example on the default backend ({bk}) ==")
    a = Tensor([0.5, 1.0, 2.0], name="a")
    b = Tensor([[1.0], [2.0]], name="b")
    f = xpgrad.sum(xpgrad.sin(a) * b + xpgrad.exp(a * b) / (1 + b * b))
    ga, gb = xpgrad.grad(f, [a, b])
    print("f = sum(sin(a)*b + exp(a*b)/(1+b*b)) with a of shape (3,), b of shape (2, 1)")
    print("f      ", f)
    print("df/da  ", ga)
    print("df/db  ", gb)
    print("d2f/da2", xpgrad.sum(ga).grad(a))

    print("\n== Backends ==")
    for name, mod in _MODULES.items():
        why = mod.probe()
        print(f"{name:18} {'usable' if why is None else 'unavailable: ' + why}")
    print(f"default: {bk} (set XPGRAD_BACKEND or call xpgrad.set_default_backend; 'auto' picks CuPy when usable)")


if __name__ == "__main__":
    main()
