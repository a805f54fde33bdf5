"""Building the :class:`appraisal.services.Context` for a request or a scheduler run."""
from __future__ import annotations

from datetime import datetime

from appraisal.services import Context
from core.files import file_store
from core.holidays import load_calendar


def context_for(app, session, now: datetime) -> Context:
    return Context(now=now, rulebook=app.extensions["rulebook"], calendar=load_calendar(session),
                   vault=app.extensions["identity_vault"], store=file_store(app),
                   base_url=app.config["PUBLIC_BASE_URL"])
