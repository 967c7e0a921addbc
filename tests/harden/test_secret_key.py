"""SECRET_KEY: a weak key stops start-up with DEBUG off; development keeps a random one in var/."""

import stat

import pytest

from tests.test_settings import last_line, run_manage, run_python, settings_of

ADVICE = "; generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"


@pytest.mark.parametrize(
    "key, why",
    [
        ("change-me", "a known example value"),
        ("x", "shorter than 50 characters"),
        ("test-only-secret-key", "shorter than 50 characters"),
        ("a" * 49 + "b", "fewer than 5 distinct characters"),
        ("abcd" * 20, "fewer than 5 distinct characters"),
        # A fixed key: a random one in a parameter's id differs between xdist's workers.
        (
            "django-insecure-Zq7mB2vX9kLr4TpW8nYc3HsD6fJg1QeA5uVo0iKx7bNz2MtR",
            "a key Django generates for development only",
        ),
    ],
)
def test_a_weak_key_stops_start_up_with_debug_off(tmp_path, key, why):
    result = run_python(tmp_path, "print('started')", SECRET_KEY=key, DEBUG="0")

    assert result.returncode == 1
    assert result.stdout == ""
    assert last_line(result.stderr) == (
        f"django.core.exceptions.ImproperlyConfigured: SECRET_KEY is too weak ({why})" + ADVICE
    )


def test_a_weak_key_also_stops_manage_py(tmp_path):
    result = run_manage(tmp_path, "check", SECRET_KEY="change-me")

    assert result.returncode == 1
    assert "SECRET_KEY is too weak (a known example value)" in last_line(result.stderr)


def test_fifty_characters_of_five_kinds_is_strong_enough(tmp_path):
    key = "abcde" * 10

    values = settings_of(tmp_path, ["SECRET_KEY"], SECRET_KEY=key, DEBUG="0")

    assert values == {"SECRET_KEY": key}


def test_the_example_env_file_ships_no_key_so_production_needs_a_real_one(tmp_path):
    from tests.test_settings import BASE_DIR

    example = dict(
        line.split("=", 1)
        for line in (BASE_DIR / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )

    result = run_python(
        tmp_path, "print('started')", SECRET_KEY=example["SECRET_KEY"], DEBUG=example["DEBUG"]
    )

    assert example["SECRET_KEY"] == ""
    assert result.returncode == 1
    assert last_line(result.stderr) == (
        "django.core.exceptions.ImproperlyConfigured: SECRET_KEY is required unless DEBUG is on"
    )


def test_development_generates_a_key_once_and_keeps_it_in_var(tmp_path):
    first = settings_of(tmp_path, ["SECRET_KEY"], DEBUG="1")["SECRET_KEY"]
    second = settings_of(tmp_path, ["SECRET_KEY"], DEBUG="1")["SECRET_KEY"]

    kept = tmp_path / "var" / "secret_key"
    assert first == second == kept.read_text().strip()
    assert len(first) >= 50
    assert len(set(first)) >= 5
    assert not first.startswith("django-insecure-")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_two_development_folders_get_different_keys(tmp_path):
    one = settings_of(tmp_path / "one", ["SECRET_KEY"], DEBUG="1")["SECRET_KEY"]
    two = settings_of(tmp_path / "two", ["SECRET_KEY"], DEBUG="1")["SECRET_KEY"]

    assert one != two


def test_development_takes_a_given_key_even_a_weak_one(tmp_path):
    values = settings_of(tmp_path, ["SECRET_KEY"], DEBUG="1", SECRET_KEY="dev")

    assert values == {"SECRET_KEY": "dev"}
    assert not (tmp_path / "var" / "secret_key").exists()


def test_production_never_reads_the_development_key(tmp_path):
    settings_of(tmp_path, ["SECRET_KEY"], DEBUG="1")

    result = run_python(tmp_path, "print('started')", DEBUG="0")

    assert result.returncode == 1
    assert last_line(result.stderr) == (
        "django.core.exceptions.ImproperlyConfigured: SECRET_KEY is required unless DEBUG is on"
    )
