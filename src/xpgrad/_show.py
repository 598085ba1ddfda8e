"""Text forms of graphs: an indented tree (`show`, `format_tree`) and one-line labels.

Iterative: a node reached twice is printed once and referenced after (``-> #3``).
"""

from __future__ import annotations

from typing import Any

from ._graph import toposort
from ._tensor import Tensor, _short

__all__ = ["format_tree", "label", "show"]


def label(t: Tensor) -> str:
    """``name`` or op, and the value (small) or shape and dtype."""
    if t._const:
        return repr(t._value)
    head = t.op.name if t.op is not None else (t.name or ("placeholder" if t.is_placeholder else "leaf"))
    if t.op is not None and t.name:
        head = f"{t.name}: {head}"
    v = t._value
    if v is None:
        return f"{head} (no value; {t.shape} {t.dtype})"
    size = 1
    for d in v.shape:
        size *= d
    return f"{head} = {_short(v)}" if size <= 8 else f"{head} {tuple(v.shape)} {v.dtype}"


def format_tree(root: Tensor, max_nodes: int = 2000) -> str:
    parents: dict[int, int] = {}
    for n in toposort([root]):
        for c in n.children:
            parents[id(c)] = parents.get(id(c), 0) + 1
    refs: dict[int, int] = {}
    lines: list[str] = []
    stack: list[Any] = [(root, "", "", True)]
    while stack:
        node, lead, branch, top = stack.pop()
        if len(lines) >= max_nodes:
            lines.append(f"{lead}... (tree cut at {max_nodes} lines)")
            break
        key = id(node)
        shared = parents.get(key, 0) > 1 and node.op is not None
        if shared and key in refs:
            lines.append(f"{lead}{branch}-> #{refs[key]} {label(node)}")
            continue
        tag = ""
        if shared:
            refs[key] = len(refs) + 1
            tag = f"  [#{refs[key]}]"
        lines.append(f"{lead}{branch}{label(node)}{tag}")
        child_lead = lead if top else lead + ("    " if branch.startswith("└") else "│   ")
        kids = node.children
        for j in range(len(kids) - 1, -1, -1):
            stack.append((kids[j], child_lead, "└── " if j == len(kids) - 1 else "├── ", False))
    return "\n".join(lines)


def show(t: Tensor) -> None:
    """Print the graph below ``t`` as an indented tree."""
    print(format_tree(t))
