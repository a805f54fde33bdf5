"""Forms of the officers' pages of the list of restricted persons (decision 19, A53): the CSV
upload and the lift of an entry with its reason."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from bidding.restrictions import REASON_LEN


class RestrictionImportForm(FlaskForm):
    """A CSV list; the service checks every row before anything is written."""

    file = FileField(_l("CSV file (UTF-8 or GBK)"), validators=[FileRequired()])


class LiftForm(FlaskForm):
    """Lift an entry: from today unless the court's decision gives an earlier day."""

    reason = TextAreaField(_l("Reason for lifting (e.g. the court's decision to remove the person from the list)"),
                           validators=[DataRequired(), Length(max=REASON_LEN)])
    lifted_on = DateField(_l("Lifted on (empty: today)"), validators=[Optional()])
