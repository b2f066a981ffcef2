"""Tenant metrics (sampled time series with rollups), tenant logs, platform metrics."""
