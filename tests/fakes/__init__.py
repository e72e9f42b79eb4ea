"""Local HTTP servers speaking the protocols of the third parties the stack talks to (Polygon,
Tradier, Discord, ...). Not collected by pytest: tests import them."""
