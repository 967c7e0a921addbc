"""Every periodic job, in one place. Each entry says what it does and why at that rate."""

BEAT_SCHEDULE: dict[str, dict] = {
    # Scores events nobody kicked for (accepted while Redis was down, or whose lead was linked
    # later), fit-checks leads changed since the last run, and restarts re-scores whose chain
    # of steps broke. Every minute: the worst case lag for events that missed their kick.
    "scoring-sweep": {"task": "scoring.sweep", "schedule": 60.0},
    # Switches off points past their expiry and lowers the scores that follow (a lead's stage
    # never moves back). Points last whole days, so dropping out within five minutes is plenty.
    "scoring-expire": {"task": "scoring.expire", "schedule": 300.0},
}
