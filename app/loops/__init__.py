"""The service working while the trader is away: the watchlist snapshot loop (`snapshots`), the
alert rule poller (`poller`) and the live WebSocket stream (`stream`). `runner.start_loops` starts
what the settings enable; docs/loops.md has the whole picture."""
