"""User code from the README, typed: mypy checks it with zero errors (tests/test_typing.py runs it, and
runs this file too). Each annotation is something a user may rely on; nothing here is `reveal_type`."""

from __future__ import annotations

from collections.abc import Iterator

import array_api_compat
import numpy as np

import xpgrad
from xpgrad import Tensor

# the seed example
x = Tensor(3)
y = Tensor(5)
z1: Tensor = x + y
z2: Tensor = z1 * y
g: Tensor = z2.grad(y)
assert str(z2) == "T:40" and str(g) == "T:13"
xpgrad.show(g)
text: str = g.expr() + xpgrad.format_tree(g)

# arrays
a = xpgrad.Tensor(np.array([0.5, 1.0, 2.0]))
b = xpgrad.Tensor(np.array([[1.0], [2.0]]))
f: Tensor = xpgrad.sum(xpgrad.sin(a) * b + xpgrad.exp(a * b) / (1 + b * b))
ga, gb = xpgrad.grad(f, [a, b])
h: Tensor = xpgrad.sum(ga).grad(a)
xpgrad.check_grads(lambda a, b: xpgrad.sin(a) * b, a.value, b.value, order=3)
assert gb.shape == (2, 1)

# placeholders
p = xpgrad.placeholder(shape=(None,), dtype="float64", name="p")
loss: Tensor = xpgrad.sum(p * p)
dp: Tensor = loss.grad(p)
p.value = np.array([1.0, 2.0])
print(dp.forward())

# compiled functions
q = xpgrad.placeholder(shape=(None,), dtype="float64", name="q")
qloss = xpgrad.sum(xpgrad.sin(q) * q)
compiled: xpgrad.Function = xpgrad.function([q], [qloss, qloss.grad(q)])
value, gq = compiled(np.array([0.5, 1.0, 2.0]))
dot: str = xpgrad.to_dot(qloss, qloss.grad(q))

# every kind of operator and method, with Tensors, Python numbers and arrays on either side
c: Tensor = 2.0 - a**2 / 3 + abs(-a) * a.value - (a // 1.5) % 2
m: Tensor = xpgrad.where(a > 1.0, a, 0.0) + xpgrad.maximum(a, 0.0) + xpgrad.clip(a, min=0.0)
flags: Tensor = (a >= 1.0) & ~(a == 2.0) | (a != 0.5) ^ (a <= 0.0) | (a < 3)
s: Tensor = a[1:].sum() + a.mean(axis=0) + a.reshape(3, 1).max(keepdims=True) + b.var(correction=1)
t32: Tensor = a.astype("float32") + xpgrad.astype(a, np.float32)
r: Tensor = xpgrad.sum(b, axis=[0, 1], keepdims=True) + xpgrad.ones_like(b) + xpgrad.zeros((2, 1))
rows: Iterator[Tensor] = iter(b)
n: float = float(xpgrad.sum(a)) + xpgrad.sum(a).item() + round(xpgrad.sum(a), 2)
named: str | None = a.backend


def typed(u: xpgrad.TensorLike, k: float = 2.0) -> Tensor:
    """A user's function over whatever xpgrad accepts: a Tensor, a backend array or a number."""
    return xpgrad.exp(u) * k


both: Tensor = typed(a) + typed(a.value) + typed(1.5)


# generic code through the array API namespace (untyped there: the namespace is made at run time)
def softplus(v: Tensor) -> Tensor:
    xp = array_api_compat.array_namespace(v)
    out: Tensor = xp.maximum(v, 0.0) + xp.log1p(xp.exp(-xp.abs(v)))
    return out


sp: Tensor = softplus(a).grad(a)


# the transforms (docs/transforms.md): graph and function forms
def loss_of(w: Tensor) -> Tensor:
    return xpgrad.sum(xpgrad.sin(w) * w)


gw: list[Tensor] = xpgrad.grad(loss_of(a), [a])
gf: Tensor = xpgrad.grad(loss_of)(a)
value_g: tuple[Tensor, Tensor] = xpgrad.value_and_grad(loss_of)(a)
primal_out, tangent_out = xpgrad.jvp(loss_of, (a,), (a.value,))
_, pullback = xpgrad.vjp(loss_of, a)
cts: tuple[Tensor, ...] = pullback(1.0)
hv: tuple[Tensor, ...] = xpgrad.hvp(loss_of, (a,), (a.value,))
jac: Tensor = xpgrad.jacobian(xpgrad.sin(a), a)
stopped: Tensor = xpgrad.stop_gradient(a) + xpgrad.detach(a) + a.detach()
