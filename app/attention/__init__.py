"""重点关注 (repeat offenders): merchants flagged for their record, with the reasons, computed by query."""
