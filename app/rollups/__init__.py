"""Roll-ups over the region tree: settings a county inherits from its city, targets divided among counties, and
each county's figures side by side (no Flask outside views.py)."""
