"""Every periodic job, in one place. Each entry says what it does and why at that rate."""

BEAT_SCHEDULE: dict[str, dict] = {}
