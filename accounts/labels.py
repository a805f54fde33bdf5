"""Names of account concepts in the user's language."""
from __future__ import annotations

from flask_babel import gettext as _


def role_label(role: str) -> str:
    labels = {
        "admin": _("Administrator"),
        "supervisor": _("Supervisor"),
        "officer": _("Court officer"),
        "finance": _("Court finance officer"),
        "agency": _("Appraisal agency"),
        "bidder": _("Bidder"),
        "party": _("Party"),
    }
    return labels.get(str(role), str(role))


def identity_kind_label(kind: str) -> str:
    return {"person": _("Natural person"), "enterprise": _("Enterprise")}.get(str(kind), str(kind))
