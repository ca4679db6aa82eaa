"""Complaints and reports from the public (投诉举报): received online or transferred from 12315 / 12345, handled by
the merchant's station within a deadline in working days, checked by an inspection, answered with an outcome."""
