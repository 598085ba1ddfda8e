"""`to_dot`: Graphviz DOT text for forward and gradient graphs together.

Node kinds are told apart by shape and colour (the caption of every picture repeats the key):
leaves are blue boxes, placeholders dashed boxes, Python-number constants grey plain text,
forward ops white ellipses, and gradient ops coloured by the order of the derivative they belong
to (``Tensor._level``: orange order 1, green 2, purple 3...), with "grad k" in their label. The
Tensors asked for are drawn with a double border. Edges go from an input to the op that uses it,
labelled with the input's position when an op has several, and kept in that order. A Python-number
constant is drawn beside each op that uses it (one shared node would tie the layout in knots).

Iterative (one topological sort), so any graph converts; drawing huge ones is `render`'s call.
"""

from __future__ import annotations

from .._core.tensor import Tensor, _short
from .._core.walk import toposort
from .._dtypes import dtype_name
from .infix import heading, shape_only
from .tree import _STATES

__all__ = ["to_dot"]

_GRAD_COLOURS = ("#ffc078", "#8ce99a", "#b197fc", "#ff8787", "#66d9e8")
_LEAF, _PLACEHOLDER, _CONST, _FORWARD = "#a5d8ff", "#e7f5ff", "#f1f3f5", "#ffffff"
_CAPTION = (
    "blue boxes: leaves; dashed: placeholders; grey: constants; white: forward ops;\n"
    "orange / green / purple: gradient ops of order 1 / 2 / 3 (grad k); double border: the Tensors drawn;\n"
    "dotted edges: inputs read for their shape only"
)
_SMALL = 8  # values with at most this many elements are printed in the node


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _value_line(t: Tensor) -> str:
    v = t._value
    shape = t.shape
    if v is not None and shape is not None:
        size = 1
        for d in shape:
            size *= d  # type: ignore[operator]  # (a value's shape: no None)
        if size <= _SMALL:
            host = t._bk.to_numpy(v)
            return "= " + _short(host if host.ndim else host.item())
    dt = "?" if t.dtype is None else dtype_name(t._bk.xp, t.dtype)
    dims = "?" if shape is None else "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"
    return f"{dims} {dt}" + ("" if v is not None else f" ({_STATES.get(t._remat, 'no value')})")


def _node(t: Tensor, root: bool) -> str:
    if t._const:
        attrs = {"label": repr(t._value), "shape": "plaintext", "fontcolor": "#495057", "fillcolor": _CONST}
    else:
        head = heading(t) if t.op is not None else (t.name or ("placeholder" if t._ph else "leaf"))
        if t.op is not None and t.name:
            head = f"{t.name} = {head}"
        lines = [head, _value_line(t), t.backend or ""]
        if t.op is None:
            attrs = {"shape": "box", "fillcolor": _PLACEHOLDER if t._ph else _LEAF}
            if t._ph:
                attrs["style"] = "filled,dashed"
        elif t._level == 0:
            attrs = {"shape": "ellipse", "fillcolor": _FORWARD}
        else:
            attrs = {"shape": "ellipse", "fillcolor": _GRAD_COLOURS[(t._level - 1) % len(_GRAD_COLOURS)]}
            lines[-1] += f"  grad {t._level}"
        attrs["label"] = "\n".join(lines)
    if root:
        attrs["peripheries"] = "2"
    return " ".join(f"{k}={_q(v)}" for k, v in attrs.items())


def to_dot(*tensors: Tensor, title: str | None = None) -> str:
    """Graphviz DOT text for the graphs below ``tensors`` (forward and gradient graphs together).

    Arguments:
        tensors: the Tensors to draw: e.g. ``z2`` and ``z2.grad(y)``; shared nodes are drawn once.
        title: an optional first caption line.

    Returns:
        The DOT source: render it with `xpgrad.render`, or ``dot -Tsvg``.

    Example:
        >>> x, y = Tensor(3, name="x"), Tensor(5, name="y")
        >>> z = (x + y) * y
        >>> print(xpgrad.to_dot(z, z.grad(y)))
    """
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"to_dot: argument {i} is a {type(t).__name__}, not a Tensor")
    order = [n for n in toposort(tensors) if not n._const or id(n) in {id(t) for t in tensors}]
    ids = {id(n): f"n{i}" for i, n in enumerate(order)}
    roots = {id(t) for t in tensors}
    caption = (title + "\n" if title else "") + _CAPTION
    out: list[str] = [
        "digraph xpgrad {",
        f"  graph [rankdir=BT, ordering=in, fontsize=10, labelloc=b, label={_q(caption)}];",
        '  node [style=filled, fontname="Helvetica", fontsize=11];',
        '  edge [fontsize=9, fontcolor="#868e96", arrowsize=0.6];',
    ]
    add = out.append
    for n in order:
        add(f"  {ids[id(n)]} [{_node(n, id(n) in roots)}];")
    for n in order:
        cs = n.children
        meta = shape_only(n) if n.op is not None and n.op.meta else frozenset()
        numbered = len(cs) - len(meta) > 1  # (an op with one operand besides those read for their shape: no numbers)
        for j, c in enumerate(cs):
            lab = f' [label="{j}"]' if numbered else ""
            if j in meta:  # read for its shape only: dotted, labelled so
                lab = ' [label="shape", style=dotted]'

            src = ids.get(id(c))
            if src is None:  # a constant: drawn beside each use (one shared node would tie the layout in knots)
                src = f"{ids[id(n)]}c{j}"
                add(f"  {src} [{_node(c, False)}];")
            add(f"  {src} -> {ids[id(n)]}{lab};")
    add("}")
    return "\n".join(out) + "\n"
