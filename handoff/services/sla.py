"""The response-time SLA job. (To be written: see the hand-off issue.)"""


def sla_check() -> dict:
    raise NotImplementedError
