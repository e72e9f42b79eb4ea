"""`/api/v1/logs`: application and strategy log records, stored one at a time or in batches."""

from typing import Annotated

from pydantic import Field

from app.api.schemas import Text
from app.api.schemas_tables import Level, LogIn, LogOut
from app.api.storage import ListQuery, table_router
from app.db.repo_logs import LOGS


class LogQuery(ListQuery):
    source: Annotated[Text, Field(max_length=64)] | None = Field(None, description="only this source")
    level: Level | None = Field(None, description="only this level")


router = table_router(LOGS, LogIn, LogOut, LogQuery, noun="log record")
