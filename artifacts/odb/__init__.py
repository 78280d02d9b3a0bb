"""The content-addressed object database of a store: where bytes live (``layout``), how
they are read and checked (``readers``, ``objects``), packs and their index (``packs``)
and the garbage sweep (``gc``).  It knows digests and entries, never names or versions.

(This package module imports none of its modules, so that they import without a circle.)
"""
