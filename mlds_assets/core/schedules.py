"""Reading the platform YAML's cron schedules for what Dagster needs beside the cron itself."""

from __future__ import annotations

from datetime import timedelta


def schedule_period(cron: str) -> timedelta:
    """How often a five-field cron fires, coarsely: hourly, daily, weekly or monthly. Freshness policies
    allow one period (plus slack) between materialisations."""
    _minute, hour, day_of_month, _month, day_of_week = cron.split()
    if day_of_week != "*":
        return timedelta(days=7)
    if day_of_month != "*":
        return timedelta(days=28)  # the shortest month: Dagster wants no more than the smallest interval
    if hour == "*" or hour.startswith("*/"):
        return timedelta(hours=1)
    return timedelta(days=1)
