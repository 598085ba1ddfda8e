"""Graphs as text (tree, infix) and pictures (DOT, Graphviz)."""
