"""All models, imported so Alembic and `Base.metadata` see every table."""
from db.base import Base
from db.models.core import BackgroundJob, Business, JobStatus

__all__ = ["Base", "BackgroundJob", "Business", "JobStatus"]
