"""Solo Trader Stack: the trading assistant service and the operator's `trader` command."""

__version__ = "0.1.0"
