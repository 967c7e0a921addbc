"""Nothing acknowledged is lost: real gunicorn, SIGKILLed workers, Redis down, replays."""

import os
import signal
import threading
import time

import pytest
import requests

from events.models import Event, PendingEvent
from leads.models import Lead
from tests.events.conftest import basic
from tests.support import free_port

pytestmark = pytest.mark.services


def batch(prefix: str, size: int) -> dict:
    return {
        "batch": [
            {
                "type": "track",
                "userId": f"{prefix}-user",
                "event": "Task Created",
                "messageId": f"{prefix}-{i}",
            }
            for i in range(size)
        ]
    }


def push(server, key, body, timeout=30):
    return requests.post(
        f"{server.url}/v1/batch", json=body, headers={"Authorization": basic(key)}, timeout=timeout
    )


def test_killed_gunicorn_worker_loses_nothing_it_acknowledged(gunicorn, write_key):
    server = gunicorn(workers=2)
    acked, failed = set(), []
    lock = threading.Lock()
    done = threading.Event()

    def client(n: int):
        for b in range(25):
            body = batch(f"c{n}-b{b}", 40)
            ids = {m["messageId"] for m in body["batch"]}
            try:
                ok = push(server, write_key, body).status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                if ok:
                    acked.update(ids)
                else:
                    failed.append(body)

    clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in clients:
        thread.start()
    killed = []

    def killer():
        # Kill a busy worker three times while the clients are pushing.
        for _ in range(3):
            time.sleep(0.4)
            pids = server.worker_pids()
            if done.is_set() or not pids:
                return
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    kill_thread = threading.Thread(target=killer)
    kill_thread.start()
    for thread in clients:
        thread.join()
    done.set()
    kill_thread.join()

    assert killed, "no worker was killed during the load"
    stored = list(Event.objects.values_list("message_id", flat=True))
    assert len(stored) == len(set(stored)), "a message id was stored twice"
    assert acked <= set(stored), f"{len(acked - set(stored))} acknowledged events were lost"
    # What failed can be sent again safely: dedupe keeps one row per message id.
    for body in failed:
        assert push(server, write_key, body).status_code == 200
    assert Event.objects.count() == 4 * 25 * 40


def test_replaying_a_batch_three_times_over_http_leaves_one_row_each(gunicorn, write_key):
    server = gunicorn(workers=2)
    body = batch("replay", 100)

    statuses = [push(server, write_key, body).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert Event.objects.count() == 100
    assert Event.objects.values("message_id").distinct().count() == 100


def test_events_are_accepted_and_stored_while_redis_is_down(gunicorn, write_key):
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    server = gunicorn(workers=1, env={"REDIS_URL": dead})
    body = {
        "batch": [
            {"type": "identify", "userId": "r1", "traits": {"email": "r1@example.com"}},
            {"type": "track", "userId": "r1", "event": "Demo Requested", "messageId": "r-1"},
        ]
    }

    response = push(server, write_key, body, timeout=60)

    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "rejected": 0, "errors": [], "errors_total": 0}
    lead = Lead.objects.get(email="r1@example.com")
    assert Event.objects.filter(lead=lead).count() == 2
    # Left for scoring to pick up once the broker is back.
    assert PendingEvent.objects.filter(event__lead=lead).count() == 2
    health = requests.get(f"{server.url}/healthz", timeout=10).json()
    assert health["broker"].startswith("error")
