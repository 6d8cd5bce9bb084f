"""prosaas: a multi-tenant SaaS's background work on Dramatiq, run from one install."""
__version__ = "0.1.0"
