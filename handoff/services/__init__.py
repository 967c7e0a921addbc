"""Writes of the sales hand-off, one module per concern:

- routing.py: rules, settings, routing leads to reps (round robin by free capacity), the pool,
  reassignment by a manager;
- decisions.py: the rep's accept / reject / qualify / close;
- activities.py: activities (first touch) and tasks;
- merge.py: duplicates merged into a kept lead;
- common.py: what decisions, activities and merges share (locking a lead, who may act on it,
  ending its assignment);
- sla.py: the every-minute SLA job (breaches, escalation emails, taking leads back).
"""
