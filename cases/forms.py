"""Forms of the cases package."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import DateField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional


def category_choices():
    return [
        SelectChoice("real_estate", _l("Real estate (不动产)")),
        SelectChoice("land_use_right", _l("Land use right (土地使用权)")),
        SelectChoice("vehicle", _l("Vehicle (机动车)")),
        SelectChoice("equity", _l("Equity (股权)")),
        SelectChoice("movable", _l("Movable property (动产)")),
        SelectChoice("mining_right", _l("Mining right (矿业权)")),
        SelectChoice("jewellery", _l("Jewellery and jade (珠宝玉石)")),
        SelectChoice("other", _l("Other (其他)")),
    ]


def kind_choices():
    return [SelectChoice("person", _l("Natural person")), SelectChoice("enterprise", _l("Enterprise"))]


class CaseForm(FlaskForm):
    number = StringField(_l("Case number"), validators=[DataRequired(), Length(max=60)])
    basis = StringField(_l("Enforcement basis"), validators=[DataRequired(), Length(max=300)])
    filed_on = DateField(_l("Filing date"), validators=[DataRequired()])
    claim_amount = StringField(_l("Applicant's outstanding claim (yuan)"), validators=[DataRequired(), Length(max=20)])
    officer_id = SelectField(_l("Assigned officer"), coerce=int, validate_choice=False)
    series_id = SelectField(_l("Series"), coerce=int, validate_choice=False)
    applicant_kind = SelectField(_l("Applicant is"), choices=kind_choices)
    applicant_name = StringField(_l("Applicant name"), validators=[DataRequired(), Length(max=120)])
    applicant_id = StringField(_l("Applicant ID number / credit code"), validators=[DataRequired(), Length(max=30)])
    applicant_legal_rep = StringField(_l("Legal representative"), validators=[Optional(), Length(max=120)])
    applicant_phone = StringField(_l("Mobile number"), validators=[Optional(), Length(max=20)])
    applicant_email = StringField(_l("E-mail address"), validators=[Optional(), Length(max=254)])
    applicant_address = StringField(_l("Address for service"), validators=[Optional(), Length(max=300)])
    debtor_kind = SelectField(_l("Debtor is"), choices=kind_choices)
    debtor_name = StringField(_l("Debtor name"), validators=[DataRequired(), Length(max=120)])
    debtor_id = StringField(_l("Debtor ID number / credit code"), validators=[DataRequired(), Length(max=30)])
    debtor_legal_rep = StringField(_l("Legal representative"), validators=[Optional(), Length(max=120)])
    debtor_phone = StringField(_l("Mobile number"), validators=[Optional(), Length(max=20)])
    debtor_email = StringField(_l("E-mail address"), validators=[Optional(), Length(max=254)])
    debtor_address = StringField(_l("Address for service"), validators=[Optional(), Length(max=300)])
    basis_file = FileField(_l("Enforcement basis document (PDF or scan, optional)"))


class PartyForm(FlaskForm):
    role = SelectField(_l("Role"), choices=lambda: [SelectChoice("applicant", _l("Applicant (申请执行人)")),
                                                    SelectChoice("debtor", _l("Debtor (被执行人)"))])
    kind = SelectField(_l("Kind"), choices=kind_choices)
    name = StringField(_l("Name or registered name"), validators=[DataRequired(), Length(max=120)])
    id_number = StringField(_l("ID number / credit code"), validators=[DataRequired(), Length(max=30)])
    legal_rep = StringField(_l("Legal representative"), validators=[Optional(), Length(max=120)])
    phone = StringField(_l("Mobile number"), validators=[Optional(), Length(max=20)])
    email = StringField(_l("E-mail address"), validators=[Optional(), Length(max=254)])
    address = StringField(_l("Address for service"), validators=[Optional(), Length(max=300)])


class AssetForm(FlaskForm):
    category = SelectField(_l("Category"), choices=category_choices)
    title = StringField(_l("Name of the asset"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    region_code = StringField(_l("Region code (6 digits, where it lies)"), validators=[DataRequired(), Length(max=6)])
    location = StringField(_l("Location"), validators=[DataRequired(), Length(max=300)])
    seized_on = DateField(_l("Date of seizure / freeze"), validators=[DataRequired()])
    defects = TextAreaField(_l("Known defects"), validators=[Optional(), Length(max=5000)])
    encumbrances = TextAreaField(_l("Encumbrances (mortgages, leases, priority rights)"), validators=[Optional(), Length(max=5000)])
    occupancy = TextAreaField(_l("Occupancy and use"), validators=[Optional(), Length(max=5000)])
    tax_notes = TextAreaField(_l("Taxes and fees"), validators=[Optional(), Length(max=5000)])
    photos = MultipleFileField(_l("Photos (JPEG, PNG or WebP; up to 10 MB each)"))
    documents = MultipleFileField(_l("Documents (PDF; up to 30 MB each)"))


class UploadForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=lambda: [SelectChoice("photo", _l("Photo")),
                                                    SelectChoice("document", _l("Document (PDF)"))])
    files = MultipleFileField(_l("Files"))


class BasisForm(FlaskForm):
    file = FileField(_l("Enforcement basis document"), validators=[FileRequired()])


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file (UTF-8 or GBK)"), validators=[FileRequired()])
    series_name = StringField(_l("Series name (optional)"), validators=[Optional(), Length(max=120)])


class ConfirmImportForm(FlaskForm):
    file_sha256 = StringField(validators=[DataRequired(), Length(min=64, max=64)])
    series_name = StringField(validators=[Optional(), Length(max=120)])


class InvitationForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(min=3, max=60)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class EmptyForm(FlaskForm):
    """Only a CSRF token (buttons that post)."""
