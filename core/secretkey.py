"""SECRET_KEY: strong in production, generated once in development.

The key signs sessions, password-reset links and nurturing's click and unsubscribe links: with a
guessable key anyone can forge a link that redirects to any site or unsubscribes everyone. So
with DEBUG off a weak key stops start-up, by the rule of Django's `check --deploy` (W009) plus
the example values people copy. With DEBUG on and no key, one is generated the first time and
kept in the var/ folder (LEADCRM_VAR_DIR), so sessions survive a restart.
"""

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

MIN_LENGTH = 50
MIN_UNIQUE_CHARACTERS = 5
INSECURE_PREFIX = "django-insecure-"
# Keys people copy from examples (ours shipped `change-me`), compared case-insensitively.
KNOWN_EXAMPLES = frozenset(
    {"change-me", "changeme", "change_me", "secret", "secret-key", "your-secret-key"}
)
GENERATE = "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"


def weakness(key: str) -> str | None:
    """Why `key` is too weak for production, or None."""
    if key.strip().lower() in KNOWN_EXAMPLES:
        return "a known example value"
    if key.startswith(INSECURE_PREFIX):
        return "a key Django generates for development only"
    if len(key) < MIN_LENGTH:
        return f"shorter than {MIN_LENGTH} characters"
    if len(set(key)) < MIN_UNIQUE_CHARACTERS:
        return f"fewer than {MIN_UNIQUE_CHARACTERS} distinct characters"
    return None


def secret_key(given: str, *, debug: bool, var_dir: Path) -> str:
    """The key to use: `given` (the SECRET_KEY variable) when it may be used, else the
    development key under `var_dir`; raises ImproperlyConfigured naming SECRET_KEY."""
    if debug:
        return given or development_key(var_dir)
    if not given:
        raise ImproperlyConfigured("SECRET_KEY is required unless DEBUG is on")
    why = weakness(given)
    if why:
        raise ImproperlyConfigured(f"SECRET_KEY is too weak ({why}); generate one with: {GENERATE}")
    return given


def development_key(var_dir: Path) -> str:
    """The key kept in var_dir/secret_key, made (readable by its owner only) on first use."""
    path = var_dir / "secret_key"
    try:
        kept = path.read_text().strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        return kept
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(MIN_LENGTH)
    # O_EXCL: two processes starting at once keep the first one's key, not two different ones.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip() or key
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key
