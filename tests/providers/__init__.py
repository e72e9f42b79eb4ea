"""Provider clients, the shared HTTP policy, orders and the market/assistant endpoints."""
