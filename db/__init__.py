"""Database floor: models, sessions, migrations. Knows only a database URL, never settings or Dramatiq."""
from db.session import Database, normalize_url

__all__ = ["Database", "normalize_url"]
