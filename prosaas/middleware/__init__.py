"""Our cross-cutting job behaviour, as Dramatiq middleware configured by actor options."""
