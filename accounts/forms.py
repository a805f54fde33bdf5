"""Forms of the accounts package (Flask-WTF: every form carries a CSRF token)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, PasswordField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=60)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class RegisterForm(FlaskForm):
    kind = RadioField(_l("I register as"), choices=[SelectChoice("person", _l("Natural person")),
                                                    SelectChoice("enterprise", _l("Enterprise"))],
                      default="person", validators=[DataRequired()])
    real_name = StringField(_l("Real name (or enterprise's registered name)"),
                            validators=[DataRequired(), Length(max=120)])
    id_number = StringField(_l("Resident ID number (or unified social credit code)"),
                            validators=[DataRequired(), Length(max=30)])
    legal_representative = StringField(_l("Legal representative (enterprises)"),
                                       validators=[Optional(), Length(max=120)])
    username = StringField(_l("User name"), validators=[DataRequired(), Length(min=3, max=60)])
    email = StringField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    phone = StringField(_l("Mobile number"), validators=[DataRequired(), Length(max=20)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    password2 = PasswordField(_l("Repeat the password"),
                              validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))])
    accept = BooleanField(_l("I confirm that these are my true details and accept the bidding rules."),
                          validators=[DataRequired(message=_l("You must confirm to register."))])


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    email = StringField(_l("E-mail address"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Mobile number"), validators=[Optional(), Length(max=20)])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    new2 = PasswordField(_l("Repeat the new password"),
                         validators=[DataRequired(), EqualTo("new", message=_l("The passwords do not match."))])


class CourtForm(FlaskForm):
    name = StringField(_l("Court name"), validators=[DataRequired(), Length(max=120)])
    code = StringField(_l("Court code (as in case numbers, e.g. 皖02)"), validators=[DataRequired(), Length(max=20)])
    region_code = StringField(_l("Region code (6 digits)"), validators=[DataRequired(), Length(min=6, max=6)])


class StaffForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[
        SelectChoice("officer", _l("Court officer")),
        SelectChoice("finance", _l("Court finance officer")),
        SelectChoice("supervisor", _l("Supervisor")),
        SelectChoice("agency", _l("Appraisal agency")),
        SelectChoice("admin", _l("Administrator")),
    ])
    court_id = SelectField(_l("Court"), coerce=int, validate_choice=False)
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    username = StringField(_l("User name"), validators=[DataRequired(), Length(min=3, max=60)])
    email = StringField(_l("E-mail address"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Mobile number"), validators=[Optional(), Length(max=20)])
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(max=200)])


class EmptyForm(FlaskForm):
    """A form with only its CSRF token (logout, enable/disable buttons)."""


class CalendarDayForm(FlaskForm):
    day = DateField(_l("Day"), validators=[DataRequired()])
    kind = SelectField(_l("Kind"), choices=[SelectChoice("holiday", _l("Statutory holiday")),
                                           SelectChoice("workday", _l("Adjusted working day (调休上班)"))])
    name = StringField(_l("Holiday name"), validators=[DataRequired(), Length(max=60)])
