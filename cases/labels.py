"""Names of case concepts in the user's language (for templates)."""
from __future__ import annotations

from flask_babel import gettext as _


def category_label(category: str) -> str:
    return {
        "real_estate": _("Real estate"), "land_use_right": _("Land use right"), "vehicle": _("Vehicle"),
        "equity": _("Equity"), "movable": _("Movable property"), "mining_right": _("Mining right"),
        "jewellery": _("Jewellery and jade"), "other": _("Other"),
    }.get(str(category), str(category))


def stage_label(stage: str) -> str:
    return {
        "seized": _("Seized"), "pricing": _("Pricing"), "priced": _("Priced"), "listed": _("Listed"),
        "sold": _("Sold"), "unsold": _("Unsold"), "variation": _("变卖 (fixed-price sale)"), "closed": _("Closed"),
    }.get(str(stage), str(stage))


def specialty_label(specialty: str) -> str:
    """The five specialty lists of agencies (E20), named as lists, not as asset categories."""
    return {
        "assets": _("Asset appraisal list"), "land": _("Land valuation list"),
        "real_estate": _("Real-estate valuation list"), "mining": _("Mining-rights appraisal list"),
        "jewellery": _("Jewellery and jade appraisal list"),
    }.get(str(specialty), str(specialty))


def movement_label(kind: str) -> str:
    return {
        "deposit_held": _("Deposit held"), "deposit_refunded": _("Deposit refunded"),
        "deposit_applied": _("Deposit applied to the price"), "deposit_forfeited": _("Deposit forfeited"),
        "received": _("Received"), "paid_out": _("Paid out"),
    }.get(str(kind), str(kind))
