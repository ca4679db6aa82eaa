"""Regions: the province → city → county (bureau) tree that stations belong to."""
