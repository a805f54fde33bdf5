"""Configuration read from the environment, with safe development defaults.

Nothing here touches the database or starts anything; :func:`load_config` only reads the
environment and the instance folder (where a generated secret key is kept when none is given).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

VERSION = "0.1.0"

ENVIRONMENTS = ("development", "test", "production")
CLOCK_MODES = ("real", "simulated")


class ConfigError(RuntimeError):
    """The environment asks for something the platform refuses to run with."""


def _read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """Return the secret kept in ``path``, generating it on first use (mode 0600)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def load_config(instance_path: str | os.PathLike, overrides: dict | None = None) -> dict:
    """Build the application configuration from the environment.

    ``overrides`` (a test config) wins over the environment. Raises :class:`ConfigError`
    for combinations that must never run, such as a simulated clock in production.
    """
    env = os.environ
    overrides = dict(overrides or {})
    instance = Path(instance_path)
    cfg: dict = {
        "ENV": env.get("ENV", "development"),
        "VERSION": VERSION,
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{instance / 'auction.sqlite3'}",
        "RULEBOOK": env.get("RULEBOOK", "spc"),
        "CLOCK": env.get("CLOCK", "real"),
        "REDIS_URL": env.get("REDIS_URL") or None,
        "MAIL_SERVER": env.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": env.get("MAIL_USE_TLS", "").lower() in ("1", "true", "yes"),
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER", "noreply@auction.localhost"),
        "FILES_DIR": env.get("FILES_DIR") or str(instance / "files"),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        #: Shared secret of the online payment gateway's signed callbacks (bidding).
        "GATEWAY_SECRET": env.get("GATEWAY_SECRET") or None,
        "SCHEDULER_IN_PROCESS": False,
        #: Rounds closed in parallel by the scheduler (PostgreSQL; each close its own session).
        "CLOSE_WORKERS": int(env.get("CLOSE_WORKERS", "4")),
        #: Each process's PostgreSQL pool (core.db.DEFAULT_POOL; gunicorn refuses to start if
        #: the workers' pools could exceed the server's max_connections).
        "DB_POOL_SIZE": int(env.get("DB_POOL_SIZE", "10")),
        "DB_MAX_OVERFLOW": int(env.get("DB_MAX_OVERFLOW", "0")),
        "DB_POOL_TIMEOUT": float(env.get("DB_POOL_TIMEOUT", "5")),
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": ("zh_CN", "en"),
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
    }
    cfg.update({k: v for k, v in overrides.items()})
    if cfg["ENV"] not in ENVIRONMENTS:
        raise ConfigError(f"ENV must be one of {ENVIRONMENTS}, not {cfg['ENV']!r}")
    if cfg["CLOCK"] not in CLOCK_MODES:
        raise ConfigError(f"CLOCK must be one of {CLOCK_MODES}, not {cfg['CLOCK']!r}")
    if cfg["CLOCK"] == "simulated" and cfg["ENV"] == "production":
        raise ConfigError("CLOCK=simulated is refused when ENV=production")
    if cfg["RULEBOOK"] not in ("spc", "demo"):
        raise ConfigError(f"RULEBOOK must be 'spc' or 'demo', not {cfg['RULEBOOK']!r}")
    if cfg["RULEBOOK"] == "demo" and cfg["ENV"] == "production":
        raise ConfigError("RULEBOOK=demo is refused when ENV=production")
    if "SECRET_KEY" not in cfg:
        cfg["SECRET_KEY"] = env.get("SECRET_KEY") or _read_or_create_secret(instance / "secret_key")
    if "IDENTITY_KEY" not in cfg:
        # Separate key for encrypting identity numbers at rest: rotating the session key must
        # not make every resident ID unreadable.
        cfg["IDENTITY_KEY"] = env.get("IDENTITY_KEY") or _read_or_create_secret(
            instance / "identity_key"
        )
    cfg["SESSION_COOKIE_SECURE"] = cfg["ENV"] == "production"
    return cfg
