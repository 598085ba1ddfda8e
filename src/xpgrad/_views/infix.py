"""`Tensor.expr()`: a graph as infix text, ``(x + y) * y``, with as few parentheses as Python needs.

- Named leaves and placeholders print by name; unnamed one-element leaves by value, other unnamed
  leaves as ``t0, t1...`` and placeholders as ``p0, p1...``; constants by value.
- Ops with an ``infix`` symbol in the table (`_core.opdef.OpDef`) by Python precedence (``**`` > unary ``-`` >
  ``* /`` > ``+ -`` > comparisons); the
  right operand of a left-associative op keeps its parentheses (``a - (b - c)``, and also
  ``a + (b + c)``, because floating-point addition is not associative). Other ops print as calls,
  ``sin(x)``, ``sum(x, axis=0)`` (parameters shown when not their default).
- The internal ops of gradient graphs print as the standard functions they amount to, from the op's ``text``
  form in the table (`fit` as ``sum(g, axis=0)``, `expand` as ``broadcast_to(g, shape=(2, 3))``); an operand
  such an op reads only for its shape is not written (nor counted as a use) unless the text says ``x.shape``.
- Shared subexpressions: an op node used more than once whose text holds more than one op is
  let-bound, ``_1 = x * y`` on a line of its own before the final expression; smaller shared
  nodes are written out at each use. So the text grows with the graph, never exponentially.
- Iterative: nodes are visited in topological order and text is emitted from an explicit stack,
  so graphs of 10^5+ nodes print without recursion and in linear time.
"""

from __future__ import annotations

import re
from typing import Any

from .._core.tensor import Tensor
from .._core.walk import toposort
from .._dtypes import dtype_name
from .._keys import typed

__all__ = ["expr", "heading", "shape_only", "template"]

ATOM, POW, UNARY, MUL, ADD, CMP = 100, 8, 7, 6, 5, 3
_BINARY = {"**": POW, "*": MUL, "/": MUL, "//": MUL, "%": MUL, "@": MUL, "+": ADD, "-": ADD}
_BINARY.update(dict.fromkeys(("==", "!=", ">", ">=", "<", "<="), CMP))
"""Python's precedence of each binary operator (its grammar; which op prints with which is the table's)."""


def _symbol(t: Tensor) -> tuple[str | None, int]:
    """(infix symbol, precedence) of an op node, from its op's ``infix``; (None, ATOM) for calls."""
    op = t.op
    assert op is not None  # (an op node)
    sym = op.infix
    if sym is None or sym == "[]":  # (a subscript binds as tightly as an atom)
        return sym, ATOM
    return sym, UNARY if op.arity == 1 else _BINARY[sym]


_OPERAND = re.compile(r"\{(\d+)\}")


def template(t: Tensor) -> str | None:
    """The standard-function text of an internal op node (``"sum({0}, axis=0)"``: `OpDef.text`), if it has one."""
    op = t.op
    if op is None or op.text is None:
        return None
    return op.text(*t.children, **t.params)


def heading(t: Tensor) -> str:
    """What `show` and pictures call an op node: its op's name, or for an internal op its standard-function text
    with ``·`` for each operand (``sum(·, axis=0)``, ``broadcast_to(·, shape=(2, 3))``)."""
    assert t.op is not None  # (an op node)
    tmpl = template(t)
    return t.op.name if tmpl is None else _OPERAND.sub("·", tmpl)


def shape_only(t: Tensor) -> frozenset[int]:
    """The positions of the operands ``t`` reads only for their shape, dtype and device and does not write out:
    `show` marks them ``(shape)``, pictures draw their edges dotted."""
    assert t.op is not None  # (an op node)
    written = {int(k) for k in _OPERAND.findall(template(t) or "")}
    return frozenset(j for j in t.op.meta if j not in written)


def _template_parts(tmpl: str, cs: tuple[Tensor, ...]) -> list[Any]:
    """``tmpl``'s literal text and its operands, each operand as tight as its neighbours need: bare between a
    call's ``(``/``, `` and ``,``/``)``, else in parentheses unless an atom (``(a + b) / 3``)."""
    parts: list[Any] = []
    pieces = _OPERAND.split(tmpl)
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            if piece:
                parts.append(piece)
            continue
        before, after = pieces[i - 1], pieces[i + 1]
        bare = before.endswith(("(", ", ")) and after.startswith((",", ")"))
        parts.append((cs[int(piece)], 0 if bare else ATOM, False))
    return parts


def _template_uses(tmpl: str | None, n: Tensor) -> list[Tensor]:
    """The operands ``n``'s text writes out (all of them for ops without a template)."""
    if tmpl is None:
        return list(n.children)
    return [n.children[int(k)] for k in _OPERAND.findall(tmpl)]


def _number(v: Any) -> tuple[str, int]:
    s = repr(v)
    return s, UNARY if s.startswith("-") else ATOM


def expr(root: Tensor, inline_ops: int = 1) -> str:
    """The infix text of ``root``'s graph (see the module's docstring for the conventions)."""
    order = toposort([root])
    uses: dict[int, int] = {}
    templates: dict[int, str | None] = {}
    for n in order:
        tmpl = templates[id(n)] = template(n)
        for c in _template_uses(tmpl, n):
            uses[id(c)] = uses.get(id(c), 0) + 1
    atoms: dict[int, tuple[str, int]] = {}
    counters = {"t": 0, "p": 0}
    size: dict[int, int] = {}  # ops written out when the node is printed inline
    bound: list[Tensor] = []
    for n in order:
        k = id(n)
        if n.op is None:
            atoms[k] = _atom(n, counters)
            continue
        s = 1 + sum(size.get(id(c), 0) for c in _template_uses(templates[k], n) if id(c) not in atoms)
        if uses.get(k, 0) > 1 and s > inline_ops and n is not root:
            atoms[k] = (f"_{len(bound) + 1}", ATOM)
            bound.append(n)
            size[k] = 0
        else:
            size[k] = s
    lines = [f"{atoms[id(b)][0]} = {_emit(b, atoms, templates)}" for b in bound]
    lines.append(_emit(root, atoms, templates) if id(root) not in atoms else atoms[id(root)][0])
    return "\n".join(lines)


def _atom(n: Tensor, counters: dict[str, int]) -> tuple[str, int]:
    if n._const:
        return _number(n._value)
    if n.name:
        return n.name, ATOM
    v = n._value
    if v is not None and not n._ph:
        size = 1
        for d in v.shape:
            size *= d
        if size == 1:
            return _number(n._bk.to_numpy(v).reshape(()).item())
    kind = "p" if n._ph else "t"
    counters[kind] += 1
    return f"{kind}{counters[kind] - 1}", ATOM


def _emit(top: Tensor, atoms: dict[int, tuple[str, int]], templates: dict[int, str | None]) -> str:
    out: list[str] = []
    stack: list[Any] = [(top, 0, True)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        node, need, is_top = item
        found = None if is_top else atoms.get(id(node))
        if found is not None:
            text, prec = found
            out.append(f"({text})" if prec < need else text)
            continue
        sym, prec = _symbol(node)
        paren = prec < need
        parts: list[Any] = ["("] if paren else []
        cs = node.children
        tmpl = templates.get(id(node))
        if tmpl is not None:  # an internal op, as the standard functions it amounts to
            parts += _template_parts(tmpl, cs)
        elif sym == "[]":  # basic indexing as Python writes it: x[1:3, None]
            parts += [(cs[0], ATOM, False), _subscript(node.params["key"])]
        elif sym is not None and len(cs) == 1:
            parts += [sym, (cs[0], POW, False)]
        elif sym is not None:
            left, right = (prec + 1, prec) if sym == "**" else (prec, prec + 1)
            if prec == CMP:
                left = right = CMP + 1
            parts += [(cs[0], left, False), f" {sym} ", (cs[1], right, False)]
        else:
            parts.append(f"{node.op.name}(")
            for j, c in enumerate(cs):
                parts += [", "] if j else []
                parts.append((c, 0, False))
            defaults = node.op.params  # (compared as CSE keys them: a fill_value -0.0 is not the default 0)
            extra = [
                f"{k}={_param(node, k, v)}"
                for k, v in node.params.items()
                if k not in defaults or typed(defaults[k]) != typed(v)
            ]
            if node.op.moves:
                extra = [f"backend={node._bk.name!r}"]
            if extra:
                parts.append((", " if cs else "") + ", ".join(extra))
            parts.append(")")
        if paren:
            parts.append(")")
        stack.extend(reversed(parts))
    return "".join(out)


def _subscript(key: tuple[Any, ...]) -> str:
    """A packed basic index (`_shapes.pack_key`) as Python writes it, ``[1:3, ::2, None]``; the ``...`` that
    packing appends to every key is left out (``x[0]`` means ``x[0, ...]``)."""
    items = key[:-1] if len(key) > 1 and key[-1] is Ellipsis else key
    out = []
    for k in items:
        if isinstance(k, tuple):  # ("slice", start, stop, step)
            start, stop, step = ("" if v is None else str(v) for v in k[1:])
            out.append(f"{start}:{stop}" + (f":{step}" if step else ""))
        else:
            out.append("..." if k is Ellipsis else repr(k))
    return "[" + ", ".join(out) + "]"


def _param(node: Tensor, k: str, v: Any) -> str:
    """A param as Python would spell it: a dtype by its name (``dtype='float32'``, not the class), an index
    as its subscript (``key=[1:]``)."""
    if k == "dtype" and v is not None and node._bk is not None:
        return repr(dtype_name(node._bk.xp, v))
    if k == "key":  # a packed basic index (`_shapes.pack_key`) as Python writes a subscript: unindex(g, x, key=[1:])
        return _subscript(v)
    return repr(v)
