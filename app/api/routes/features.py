"""`/api/v1/features`: per-symbol feature snapshots, stored one at a time or in batches."""

from typing import Annotated

from pydantic import Field

from app.api.schemas import Symbol, Text
from app.api.schemas_tables import FeatureIn, FeatureOut
from app.api.storage import ListQuery, table_router
from app.db.repo_features import FEATURES


class FeatureQuery(ListQuery):
    symbol: Symbol | None = Field(None, description="only this symbol")
    horizon: Annotated[Text, Field(max_length=32)] | None = Field(None, description="only this horizon")


router = table_router(FEATURES, FeatureIn, FeatureOut, FeatureQuery, noun="feature snapshot")
