"""Forms of the officer, party and public pages of the appraisal package (the agencies' forms
are in ``appraisal/agency_forms.py``)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import DateTimeLocalInput

from core.i18n import SHANGHAI

#: What a ``datetime-local`` input sends (browsers add seconds when a step below a minute is set).
LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")


class BeijingDateTimeField(StringField):
    """A ``datetime-local`` input read as Beijing time (Asia/Shanghai); ``data`` is the aware
    UTC instant. An unreadable value is a validation error, never a guess."""

    widget = DateTimeLocalInput()

    def process_formdata(self, valuelist):
        if not valuelist or not (valuelist[0] or "").strip():
            self.data = None
            return
        raw = valuelist[0].strip()
        for fmt in LOCAL_FORMATS:
            try:
                naive = datetime.strptime(raw, fmt)
            except ValueError:
                continue
            self.data = naive.replace(tzinfo=SHANGHAI).astimezone(timezone.utc)
            return
        self.data = None
        raise ValueError(_l("Enter a date and time as YYYY-MM-DD HH:MM (Beijing time)."))

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return self.data.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M") if self.data else ""


def method_choices():
    return [SelectChoice("negotiation", _l("Negotiation between the parties (当事人议价)")),
            SelectChoice("directed_inquiry", _l("Directed inquiry (定向询价)")),
            SelectChoice("online_inquiry", _l("Online inquiry (网络询价)")),
            SelectChoice("commissioned", _l("Commissioned appraisal (委托评估)"))]


class MethodForm(FlaskForm):
    """Open a procedure with one of the four methods (E02), or switch to another one."""

    method = RadioField(_l("Method"), choices=method_choices, validators=[DataRequired()])
    deadline_days = IntegerField(_l("Deadline in days (negotiation and directed inquiry)"), default=10,
                                 validators=[Optional(), NumberRange(min=1, max=90)])
    #: Filled by the view with the listed directed-inquiry institutions; 0 = none chosen.
    institution_id = SelectField(_l("Institution (directed inquiry)"), coerce=int, validate_choice=False, default=0)


class ScheduleDrawForm(FlaskForm):
    draw_at = BeijingDateTimeField(_l("Draw time (Beijing time)"), validators=[DataRequired()])
    requested_region = StringField(_l("Sub-list both parties jointly asked for (optional region code)"),
                                   validators=[Optional(), Regexp(r"^\d{6}$", message=_l("A region code has 6 digits."))])


class AgreedAgenciesForm(FlaskForm):
    """E24: three agencies in the order the parties agreed on; choices filled by the view."""

    first = SelectField(_l("Rank 1"), coerce=int, validate_choice=False)
    second = SelectField(_l("Rank 2"), coerce=int, validate_choice=False)
    third = SelectField(_l("Rank 3"), coerce=int, validate_choice=False)


class ReasonForm(FlaskForm):
    """Pause (暂缓/中止, E45) or withdraw (撤回, E46/E47) with the ground."""

    reason = TextAreaField(_l("Ground"), validators=[DataRequired(), Length(max=2000)])


class EmptyForm(FlaskForm):
    """Only a CSRF token (buttons that post)."""


class DecisionForm(FlaskForm):
    """Grant or refuse, accept or ask for a correction: the button pressed sends ``decision``."""

    decision = StringField(validators=[AnyOf(["grant", "refuse"])])


class NegotiationForm(FlaskForm):
    #: The party the figure is for: a party enters its own; the officer may enter either.
    party_id = SelectField(_l("For"), coerce=int)
    amount = StringField(_l("Figure (yuan)"), validators=[DataRequired(), Length(max=20)])


def objection_kind_choices():
    return [SelectChoice("procedural", _l("Procedural objection")),
            SelectChoice("technical", _l("Technical objection"))]


class ObjectionForm(FlaskForm):
    kind = RadioField(_l("Kind of objection"), choices=objection_kind_choices, validators=[DataRequired()])
    grounds = TextAreaField(_l("Grounds"), validators=[DataRequired(), Length(max=5000)])
    #: Online inquiry: the one platform result objected to (E14); 0 = the averaged result.
    submission_id = SelectField(_l("Result objected to"), coerce=int, validate_choice=False, default=0)


class DecideObjectionForm(FlaskForm):
    decision = RadioField(_l("Decision"), choices=lambda: [SelectChoice("dismiss", _l("Dismiss")),
                                                           SelectChoice("uphold", _l("Uphold"))],
                          validators=[DataRequired()])
    note = TextAreaField(_l("Reasons (given to the parties)"), validators=[DataRequired(), Length(max=5000)])
    corrected_amount = StringField(_l("Corrected value (yuan, technical objection upheld; optional)"),
                                   validators=[Optional(), Length(max=20)])


class ReviewValuationForm(FlaskForm):
    """E34: accept and serve the report, or ask the agency to explain or correct it."""

    decision = RadioField(_l("Review"), choices=lambda: [SelectChoice("accept", _l("Accept and serve on the parties")),
                                                         SelectChoice("correct", _l("Ask the agency to explain or correct (3 days)"))],
                          validators=[DataRequired()])
    note = TextAreaField(_l("Note (required when asking for a correction)"), validators=[Optional(), Length(max=5000)])


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class CommitForm(FlaskForm):
    """A party's commitment, computed in its browser (or by hand): SHA-256, 64 hex characters."""

    commitment = StringField(_l("Commitment (SHA-256, 64 hexadecimal characters)"), filters=[_strip],
                             validators=[DataRequired(), Regexp(r"^[0-9a-fA-F]{64}$",
                                                                message=_l("A commitment is 64 hexadecimal characters."))])


class SecretCommitForm(FlaskForm):
    """Without JavaScript: the party sends a secret of its own choosing and the server computes
    the commitment. Leading and trailing spaces are ignored."""

    secret = StringField(_l("Your secret"), filters=[_strip], validators=[DataRequired(), Length(min=8, max=200)])


class RevealForm(FlaskForm):
    """The party reveals its secret before the draw (leading and trailing spaces are ignored)."""

    secret = StringField(_l("Your secret"), filters=[_strip], validators=[DataRequired(), Length(max=200)])


class FeeForm(FlaskForm):
    """E51/E52 advance (from the estimated fee) or the fee paid to the agency (E50)."""

    amount = StringField(_l("Amount (yuan)"), validators=[DataRequired(), Length(max=20)])
