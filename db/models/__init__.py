"""All models, imported so Alembic and `Base.metadata` see every table."""
from db.base import Base
from db.models.core import BackgroundJob, Business, JobStatus
from db.models import batch  # noqa: F401,E402
from db.models import recordings  # noqa: F401,E402
from db.models import messaging  # noqa: F401,E402

__all__ = ["Base", "BackgroundJob", "Business", "JobStatus"]
