"""Every periodic job, in one place. Each entry says what it does and why at that rate."""

BEAT_SCHEDULE: dict[str, dict] = {
    # Scores events nobody kicked for (accepted while Redis was down, or whose lead was linked
    # later), fit-checks leads changed since the last run, and restarts re-scores whose chain
    # of steps broke. Every minute: the worst case lag for events that missed their kick.
    "scoring-sweep": {"task": "scoring.sweep", "schedule": 60.0},
    # Switches off points past their expiry and lowers the scores that follow (a lead's stage
    # never moves back). Points last whole days, so dropping out within five minutes is plenty.
    "scoring-expire": {"task": "scoring.expire", "schedule": 300.0},
    # Browser page views and tracks waiting in the event buffer (events/buffer.py): the first
    # row kicks a drain; this catches a lost kick (broker down, worker killed). Every 10 s: an
    # accepted event reaches the database, its lead and scoring within seconds even then.
    "events-buffer-drain": {
        "task": "events.buffer_drain",
        "schedule": 10.0,
        "options": {"expires": 9},
    },
    # Nurturing: retry emails whose worker died (expired claims), send emails a dead worker was
    # committing to review, then queue an email for every due step (claimed with SKIP LOCKED,
    # so a second beat does no harm). Every minute: a step's due time is kept to the minute.
    # `expires`: a backlog of ticks piled up while no worker ran collapses into one.
    "nurture-dispatch": {
        "task": "nurturing.tasks.nurture_dispatch",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Nurturing: enroll leads that score and filter triggers want, and back up the immediate
    # stage-trigger kick (a lost task, a broker outage). Every minute, so that a new lead's
    # welcome email still goes out within about a minute when its kick was lost.
    "nurture-match-triggers": {
        "task": "nurturing.tasks.nurture_match_triggers",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Hand-off SLAs: marks missed accept and first-touch deadlines (once each: a conditional
    # update), queues their escalation emails (rep + managers), takes back leads past their
    # reassign deadline and routes them again. Every minute: deadlines are kept to the minute.
    # `expires`: a backlog of ticks piled up while no worker ran collapses into one.
    "handoff-sla-check": {
        "task": "handoff.sla_check",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Hand-off routing: assign the unassigned pool's leads (oldest first) to reps with room, in
    # assign mode. Catches what nothing publishes: reps whose away ended by itself
    # (away_until passed), route_leads tasks lost while the broker was down, and assignment
    # emails whose task was lost. Every minute: a lead is to be routed within a minute.
    "handoff-route-pool": {
        "task": "handoff.route_pool",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Forms: expire double opt-in submissions whose link ran out, and queue again the
    # follow-ups (the form's sequence, the confirmation link or content offer) whose task was
    # lost. Every minute: a visitor waits for that email on the thank-you page.
    "web-followup-catch-up": {
        "task": "web.followup_catch_up",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Imports: queue again the jobs nothing runs (pending or running with no batch committed
    # for three minutes: a publish lost while the broker was down, a worker killed for good).
    # A second runner of a job is harmless (it stops at its first batch). Every five minutes.
    "imports-resume": {
        "task": "imports.resume",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Retention: deletes raw events received more than LEADCRM_EVENT_RETENTION_DAYS ago (0:
    # never), in batches of one transaction each, for at most a minute a run. Hourly: events
    # outlive their retention by an hour at most, and each run's work stays small.
    "events-retention-purge": {
        "task": "events.retention_purge",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
}
