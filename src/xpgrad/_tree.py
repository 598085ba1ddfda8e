"""Pytrees, as JAX has them: nested containers of arrays, flattened to their leaves and rebuilt.

The containers are dict (its keys sorted, as JAX sorts them; an OrderedDict keeps its order), list, tuple,
namedtuple and None (a container of nothing); everything else is a leaf. The function transforms take
arguments and return values of this shape (``grad(f)(params)`` with ``params`` a dict of arrays gives a dict
of gradients). Nothing here knows of graphs: a Tensor is a leaf like an array.

Example:
    >>> from xpgrad import tree_flatten, tree_map, tree_unflatten
    >>> leaves, treedef = tree_flatten({"b": [1.0, 2.0], "a": (3.0, None)})
    >>> leaves
    [3.0, 1.0, 2.0]
    >>> tree_unflatten(treedef, [x * 10 for x in leaves])
    {'a': (30.0, None), 'b': [10.0, 20.0]}
    >>> tree_map(lambda p, g: p - 0.5 * g, {"w": 1.0}, {"w": 4.0})
    {'w': -1.0}
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["TreeDef", "tree_flatten", "tree_leaves", "tree_map", "tree_paths", "tree_unflatten"]


class TreeDef:
    """The shape of a pytree without its leaves: what `tree_unflatten` rebuilds a tree from.

    ``kind`` is ``"leaf"``, ``"none"``, ``"dict"``, ``"odict"``, ``"list"``, ``"tuple"`` or ``"namedtuple"``;
    ``meta`` the dict's keys (in leaf order) or the namedtuple's class; ``children`` the subtrees' TreeDefs.
    Two trees of the same shape have equal TreeDefs.
    """

    __slots__ = ("children", "kind", "meta", "num_leaves")

    def __init__(self, kind: str, meta: Any, children: tuple[TreeDef, ...]) -> None:
        self.kind, self.meta, self.children = kind, meta, children
        self.num_leaves: int = 1 if kind == "leaf" else sum(c.num_leaves for c in children)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TreeDef)
            and (self.kind, self.meta) == (other.kind, other.meta)
            and self.children == other.children
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.num_leaves, len(self.children)))

    def __repr__(self) -> str:
        return f"TreeDef({_shape_of(self)})"


def tree_flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of ``tree`` in order (dict entries by sorted key) and its `TreeDef`."""
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves)


def tree_leaves(tree: Any) -> list[Any]:
    """The leaves of ``tree``, in `tree_flatten`'s order."""
    return tree_flatten(tree)[0]


def tree_unflatten(treedef: TreeDef, leaves: Any) -> Any:
    """The tree of shape ``treedef`` with ``leaves`` (a sequence, as many as ``treedef.num_leaves``) in order."""
    items = list(leaves)
    if len(items) != treedef.num_leaves:
        raise ValueError(f"tree_unflatten: {treedef} has {treedef.num_leaves} leaves, but {len(items)} were given")
    return _build(treedef, iter(items))


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """``f`` applied to each leaf of ``tree`` (and the leaves at the same places of ``rest``, trees of the same
    shape), in a tree of that shape: ``tree_map(lambda p, g: p - lr * g, params, grads)``."""
    leaves, treedef = tree_flatten(tree)
    others = []
    for i, other in enumerate(rest):
        more, d = tree_flatten(other)
        if d != treedef:
            raise ValueError(f"tree_map: tree {i + 1} has shape {d}, but the first tree has {treedef}")
        others.append(more)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others, strict=True)])


def tree_paths(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Each leaf of ``tree`` with its path as Python writes it (``prefix['w'][0]``), in `tree_flatten`'s order."""
    out: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [(prefix, tree)]
    while stack:  # (depth first, children pushed in reverse: the order of tree_flatten)
        path, node = stack.pop()
        kids = _children(node)
        if kids is None:
            out.append((path, node))
            continue
        keys, values = kids
        stack.extend((f"{path}{_step(node, k)}", v) for k, v in reversed(list(zip(keys, values, strict=True))))
    return out


def _children(node: Any) -> tuple[list[Any], list[Any]] | None:
    """The keys and children of a container (None for a leaf)."""
    if node is None:
        return [], []
    if isinstance(node, dict) and type(node) in (dict, OrderedDict):
        keys = list(node) if type(node) is OrderedDict else _sorted_keys(node)
        return keys, [node[k] for k in keys]
    if type(node) in (list, tuple) or _is_namedtuple(node):
        return list(range(len(node))), list(node)
    return None


def _step(node: Any, key: Any) -> str:
    return f".{node._fields[key]}" if _is_namedtuple(node) else f"[{key!r}]"


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _sorted_keys(d: dict[Any, Any]) -> list[Any]:
    try:
        return sorted(d)
    except TypeError as e:
        raise TypeError(f"pytree: a dict's keys are sorted (as JAX sorts them); these cannot be: {list(d)!r}") from e


def _flatten(node: Any, leaves: list[Any]) -> TreeDef:
    kids = _children(node)
    if kids is None:
        leaves.append(node)
        return _LEAF
    keys, values = kids
    children = tuple(_flatten(v, leaves) for v in values)  # (a recursion as deep as the user's nesting)
    if node is None:
        return TreeDef("none", None, ())
    if isinstance(node, dict):
        return TreeDef("odict" if type(node) is OrderedDict else "dict", tuple(keys), children)
    if _is_namedtuple(node):
        return TreeDef("namedtuple", type(node), children)
    return TreeDef(type(node).__name__, None, children)


def _build(treedef: TreeDef, leaves: Iterator[Any]) -> Any:
    kind = treedef.kind
    if kind == "leaf":
        return next(leaves)
    if kind == "none":
        return None
    values = [_build(c, leaves) for c in treedef.children]
    if kind == "dict":
        return dict(zip(treedef.meta, values, strict=True))
    if kind == "odict":
        return OrderedDict(zip(treedef.meta, values, strict=True))
    if kind == "namedtuple":
        return treedef.meta(*values)
    return values if kind == "list" else tuple(values)


def _shape_of(d: TreeDef) -> str:
    if d.kind == "leaf":
        return "*"
    if d.kind == "none":
        return "None"
    inner = ", ".join(_shape_of(c) for c in d.children)
    if d.kind in ("dict", "odict"):
        inner = ", ".join(f"{k!r}: {_shape_of(c)}" for k, c in zip(d.meta, d.children, strict=True))
        return "{" + inner + "}"
    if d.kind == "namedtuple":
        return f"{d.meta.__name__}({inner})"
    return f"[{inner}]" if d.kind == "list" else f"({inner}{',' if len(d.children) == 1 else ''})"


_LEAF = TreeDef("leaf", None, ())
