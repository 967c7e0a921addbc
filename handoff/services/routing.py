"""Routing MQL/PQL leads to reps. (To be written: see the hand-off issue.)"""


def leads_route(*, lead_ids: list[int]) -> int:
    raise NotImplementedError


def pool_route() -> int:
    raise NotImplementedError


def assignment_notify(*, assignment_id: int) -> bool:
    raise NotImplementedError
