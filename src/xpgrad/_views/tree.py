"""Text forms of graphs: an indented tree (`show`, `format_tree`) and one-line labels.

Iterative: a node reached twice is printed once and referenced after (``-> #3``).
"""

from __future__ import annotations

from typing import Any

from .._core.plugins import State
from .._core.tensor import Tensor, _short
from .infix import heading, shape_only

__all__ = ["format_tree", "label", "show"]


_STATES = {State.RELEASED: "released", State.FREED: "freed"}
"""How a node without a value got there: its value recomputes on demand (see `State`)."""


def label(t: Tensor) -> str:
    """``name`` or op, and the value (small) or shape and dtype."""
    if t._const:
        return repr(t._value)
    head = heading(t) if t.op is not None else (t.name or ("placeholder" if t.is_placeholder else "leaf"))
    if t.op is not None and t.name:
        head = f"{t.name}: {head}"
    v = t._value
    if v is None:
        return f"{head} ({_STATES.get(t._remat, 'no value')}; {t.shape} {t._dtype_label()})"
    size = 1
    for d in v.shape:
        size *= d
    return f"{head} = {_short(v)}" if size <= 8 else f"{head} {tuple(v.shape)} {v.dtype}"


def format_tree(root: Tensor, max_nodes: int = 2000) -> str:
    """The graph below ``root`` as an indented tree of at most ``max_nodes`` lines.

    An op node reached more than once within the printed lines is tagged ``[#k]`` where it is first
    printed and referenced (``-> #k``) after. Two passes over the printed walk only (no walk of the
    whole graph), so cutting a huge graph costs what is printed.
    """
    if not isinstance(root, Tensor):
        raise TypeError(
            f"show/format_tree: expected one Tensor, got {type(root).__name__}; for several, show each "
            "(or draw them together with xpgrad.to_dot / xpgrad.render)"
        )
    # pass 1: the walk, with a node's second and later visits not expanded (they become references)
    walk: list[tuple[Tensor, str, str]] = []  # (a branch of an operand read for its shape only ends in "(shape) ")
    visits: dict[int, int] = {}
    stack: list[Any] = [(root, "", "", True, 0)]
    cut: str | None = None  # the indent of the first line not printed
    while stack:
        node, lead, branch, top, depth = stack.pop()
        if len(walk) >= max_nodes:
            cut = lead
            break
        walk.append((node, lead, branch))
        key = id(node)
        seen = visits.get(key, 0)
        visits[key] = seen + 1
        if seen and node.op is not None:
            continue
        child_lead = lead if top else lead + ("    " if branch.startswith("└") else "│   ")
        if len(child_lead) > _WIDEST:  # a deep chain: the indent starts again, saying how deep (lines stay short)
            child_lead = f"[depth {depth + 1}] "
        kids = node.children
        meta = shape_only(node) if node.op is not None and node.op.meta else frozenset()
        for j in range(len(kids) - 1, -1, -1):
            branch = ("└── " if j == len(kids) - 1 else "├── ") + ("(shape) " if j in meta else "")
            stack.append((kids[j], child_lead, branch, False, depth + 1))
    # pass 2: the lines, tagging op nodes visited more than once
    refs: dict[int, int] = {}
    lines: list[str] = []
    for node, lead, branch in walk:
        key = id(node)
        if visits[key] > 1 and node.op is not None:
            if key in refs:
                lines.append(f"{lead}{branch}-> #{refs[key]} {label(node)}")
                continue
            refs[key] = len(refs) + 1
            lines.append(f"{lead}{branch}{label(node)}  [#{refs[key]}]")
        else:
            lines.append(f"{lead}{branch}{label(node)}")
    if cut is not None:
        lines.append(f"{cut}... (tree cut at {max_nodes} lines)")
    return "\n".join(lines)


_WIDEST = 120
"""The widest indent `format_tree` prints (30 levels); deeper, it starts again with the depth written out: a
cut 10^6-op chain printed 2000 lines indented up to 8000 characters (8 MB)."""


def show(t: Tensor) -> None:
    """Print the graph below ``t`` as an indented tree."""
    print(format_tree(t))
