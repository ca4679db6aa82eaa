"""Per-station counts of the ledger kept in step with its writes: what navigation badges, dashboards and
roll-ups of several stations read instead of recounting the ledger on every page (issue 18 point 3, issue 21)."""
