"""Graph generators, one registry (``GENERATORS``) filled by the modules imported below."""

from topology.generators import bipartite, deterministic, random_graphs, swapchain, wsflex  # noqa: F401  (registration)
from topology.generators.base import GENERATORS, GeneratorSpec, generate, register_generator

__all__ = ["GENERATORS", "GeneratorSpec", "generate", "register_generator"]
