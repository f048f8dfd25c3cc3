"""topology: generate, score, save and load the graphs that wire pruned networks.

This package never imports torch; ``pruning``, ``trainer`` and ``cli`` build on it
(docs/architecture.md).
"""
