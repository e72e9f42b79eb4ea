"""`/api/v1/trades`: executed trades, stored one at a time or in batches, listed newest first."""

from pydantic import Field

from app.api.schemas import Symbol
from app.api.schemas_tables import TradeIn, TradeOut
from app.api.storage import ListQuery, table_router
from app.db.repo_trades import TRADES


class TradeQuery(ListQuery):
    symbol: Symbol | None = Field(None, description="only this symbol")


router = table_router(TRADES, TradeIn, TradeOut, TradeQuery, noun="trade")
