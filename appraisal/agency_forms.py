"""Forms of the agency-side pages and the supervisor's agency pages (Flask-WTF: every form that
posts carries a CSRF token). Fields only parse; the rules live in the services."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField, Form, FormField, IntegerField, PasswordField, SelectField, SelectMultipleField, StringField,
    TextAreaField,
)
from wtforms.fields import FieldList
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, EqualTo, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

#: Blank appraiser rows on the registration form (appraisal agencies fill at least two, E55).
APPRAISER_ROWS = 5


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def kind_choices():
    return [SelectChoice("appraisal", _l("Appraisal agency (评估机构)")),
            SelectChoice("online_platform", _l("Online inquiry platform (网络询价平台)")),
            SelectChoice("directed_institution", _l("Directed-inquiry institution (定向询价机构)"))]


def specialty_choices():
    """The five specialty lists (分库, E20); values are :class:`cases.rules.Specialty`."""
    return [SelectChoice("assets", _l("Asset appraisal list (资产评估)")),
            SelectChoice("land", _l("Land valuation list (土地估价)")),
            SelectChoice("real_estate", _l("Real-estate valuation list (房地产估价)")),
            SelectChoice("mining", _l("Mining-rights appraisal list (矿业权评估)")),
            SelectChoice("jewellery", _l("Jewellery and jade appraisal list (珠宝玉石鉴定评估)"))]


def split_codes(text: str | None) -> list[str]:
    """Region codes typed as ``340200, 340000`` or ``340200 340000`` (also Chinese commas)."""
    return [c for c in re.split(r"[\s,，、;；]+", text or "") if c]


class AppraiserRow(Form):
    """One appraiser row (a plain sub-form: the outer form carries the CSRF token)."""

    name = StringField(_l("Appraiser's name"), validators=[Optional(), Length(max=60)])
    licence_number = StringField(_l("Registration / licence number"), validators=[Optional(), Length(max=60)])


class AgencyRegistrationForm(FlaskForm):
    kind = SelectField(_l("We register as"), choices=kind_choices, default="appraisal")
    name = StringField(_l("Registered name of the agency"), validators=[DataRequired(), Length(max=200)])
    licence_number = StringField(_l("Licence / filing number"), validators=[DataRequired(), Length(max=60)])
    specialties = MultiCheckboxField(_l("Specialty lists (分库)"), choices=specialty_choices,
                                     validators=[DataRequired(message=_l("Choose at least one specialty list."))])
    regions = StringField(_l("Regions served (子库)"), validators=[DataRequired(), Length(max=400)])
    appraisers = FieldList(FormField(AppraiserRow), min_entries=APPRAISER_ROWS, max_entries=30)
    address = StringField(_l("Office address"), validators=[Optional(), Length(max=300)])
    username = StringField(_l("User name"), validators=[DataRequired(), Length(min=3, max=60)])
    email = StringField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    phone = StringField(_l("Mobile number"), validators=[DataRequired(), Length(max=20)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    password2 = PasswordField(_l("Repeat the password"),
                              validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))])

    def appraiser_pairs(self) -> list[tuple[str, str]]:
        """The filled appraiser rows as (name, licence number); half-filled rows are kept so the
        service can refuse them rather than silently drop them."""
        rows = [((r.form.name.data or "").strip(), (r.form.licence_number.data or "").strip()) for r in self.appraisers]
        return [r for r in rows if r[0] or r[1]]


class AppraiserForm(FlaskForm):
    name = StringField(_l("Appraiser's name"), validators=[DataRequired(), Length(max=60)])
    licence_number = StringField(_l("Registration / licence number"), validators=[DataRequired(), Length(max=60)])


class ConflictForm(FlaskForm):
    kind = SelectField(_l("Person or enterprise"), choices=lambda: [
        SelectChoice("person", _l("Natural person")), SelectChoice("enterprise", _l("Enterprise"))])
    id_number = StringField(_l("ID number / credit code"), validators=[DataRequired(), Length(max=30)])
    description = StringField(_l("Relationship"), validators=[DataRequired(), Length(max=300)])


class AnswerForm(FlaskForm):
    """Accept, or decline with a reason; the clicked button sends ``decision``."""

    decision = StringField(validators=[AnyOf(["accept", "decline"])])
    reason = TextAreaField(_l("Reason for declining (published)"), validators=[Optional(), Length(max=2000)])


class ExtensionForm(FlaskForm):
    days = IntegerField(_l("Extra days"), validators=[InputRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class ValuationForm(FlaskForm):
    amount = StringField(_l("Appraised value (yuan)"), validators=[DataRequired(), Length(max=20)])
    effective_on = DateField(_l("Valuation date (价值时点)"), validators=[DataRequired()])
    valid_until = DateField(_l("Valid until"), validators=[DataRequired()])
    appraiser_ids = MultiCheckboxField(_l("Signing appraisers"), coerce=int, validate_choice=False)
    report = FileField(_l("Report (PDF)"), validators=[FileRequired(message=_l("Attach the report as a PDF."))])


class ObjectionAnswerForm(FlaskForm):
    answer = TextAreaField(_l("Written explanation"), validators=[DataRequired(), Length(max=10000)])


class InquiryResultForm(FlaskForm):
    amount = StringField(_l("Result (yuan)"), validators=[DataRequired(), Length(max=20)])
    report = FileField(_l("Inquiry report (PDF, optional)"))


class ButtonForm(FlaskForm):
    """Only a CSRF token (buttons that post)."""


def decision_choices():
    return [SelectChoice("approved", _l("Approve: put on the list")),
            SelectChoice("suspended", _l("Suspend")),
            SelectChoice("reinstated", _l("Reinstate")),
            SelectChoice("removed", _l("Remove (5-year bar, E23)"))]


class DecideForm(FlaskForm):
    action = SelectField(_l("Decision"), choices=decision_choices)
    reason = TextAreaField(_l("Reason (published on the agency's page)"),
                           validators=[DataRequired(), Length(max=2000)])
