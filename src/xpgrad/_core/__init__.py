"""The core: the node, the one build path, graph walking and re-evaluation, the reverse sweep, and
the plug-in interface through which the optimisations and the layers above connect. It imports only the
facts below it (errors, dtypes, shapes, options, backends)."""
