"""Forms of the auction pages: a round's terms (A45), notices (A15–A17), priority holders
(A25), the court's decisions on a round and what follows it. Amounts are typed in yuan and read
with :func:`core.money.parse_money`; times are Beijing time (``datetime-local``)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    Form, FieldList, FormField, IntegerField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from appraisal.forms import BeijingDateTimeField
from auction.labels import annul_ground_label, withdraw_ground_label
from auction.services import ANNUL_GROUNDS, WITHDRAW_GROUNDS
from core.money import MoneyError, parse_money

#: How many tax rows a terms form offers at least (decision 17: one row per tax).
TAX_ROWS = 4


class MoneyField(StringField):
    """An amount in yuan (``700000``, ``700,000.00``, ``¥700,000``); ``data`` is a ``Decimal``.
    An unreadable amount is a validation error, never a guess."""

    def process_formdata(self, valuelist):
        if not valuelist or not (valuelist[0] or "").strip():
            self.data = None
            return
        try:
            self.data = parse_money(valuelist[0])
        except MoneyError:
            self.data = None
            raise ValueError(_l("Enter an amount in yuan, for example 700000 or 700,000.00.")) from None

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return f"{self.data:.2f}" if self.data is not None else ""


def present(form, field) -> None:
    """The field was given a readable value. Unlike ``DataRequired`` it keeps the parsing error
    of an unreadable amount or time, and unlike ``InputRequired`` it refuses blanks."""
    if field.data is None and not field.errors:
        raise StopValidation(_l("This field is required."))


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def payer_choices():
    return [SelectChoice("buyer", _l("The buyer (买受人)")), SelectChoice("debtor", _l("The debtor (被执行人)")),
            SelectChoice("court", _l("Decided by the court (由法院依法确定)"))]


class TaxRow(Form):
    """One tax or fee and who bears it (A51, decision 17). An empty name means no row."""

    tax = StringField(_l("Tax or fee"), validators=[Optional(), Length(max=60)])
    payer = SelectField(_l("Borne by"), choices=payer_choices, default="buyer")


def tax_rows(form) -> list[dict]:
    """The filled rows of a terms form's tax table."""
    return [{"tax": row.tax.data.strip(), "payer": row.payer.data} for row in form.taxes
            if (row.tax.data or "").strip()]


class PublicationTextFields:
    """The texts of the publication set a round carries (A12(5), A12(10), A13(3))."""

    court_contact = TextAreaField(_l("Court contact and supervision channel (A12(10))"),
                                  validators=[Optional(), Length(max=2000)])
    title_and_possession = TextAreaField(_l("Title, possession and use (A12(5))"),
                                         validators=[Optional(), Length(max=4000)])
    defects_statement = TextAreaField(_l("Known defects and encumbrances, or that none are known (A13(3))"),
                                      validators=[Optional(), Length(max=4000)])


class TermsForm(PublicationTextFields, FlaskForm):
    """Everything the court (its collegiate panel, A45) fixes for an auction round."""

    starting_price = MoneyField(_l("Starting price (起拍价, yuan)"), validators=[present])
    deposit = MoneyField(_l("Deposit (保证金, yuan)"), validators=[present])
    increment = MoneyField(_l("Increment (加价幅度, yuan)"), validators=[present])
    start_at = BeijingDateTimeField(_l("Bidding starts (Beijing time)"), validators=[present])
    end_at = BeijingDateTimeField(_l("Bidding ends (Beijing time)"), validators=[present])
    balance_days = IntegerField(_l("Days to pay the balance (A39)"), default=30,
                                validators=[InputRequired(), NumberRange(min=1, max=365)])
    taxes = FieldList(FormField(TaxRow), min_entries=TAX_ROWS, max_entries=20)
    inspection = TextAreaField(_l("Inspection (看样) arrangements"), validators=[Optional(), Length(max=2000)])
    panel_record = TextAreaField(_l("Collegiate panel record (合议庭评议, A45)"), validators=[Optional(), Length(max=4000)])
    special_notes = TextAreaField(_l("Special notes (A12(11), A13)"), validators=[Optional(), Length(max=4000)])


class LotForm(TermsForm):
    """A new lot: its title, the assets bundled with the first one (B03) and the first round's terms."""

    title = StringField(_l("Title of the lot"), validators=[DataRequired(), Length(max=200)])
    #: Filled by the view with the other priced assets of the same case.
    bundle = MultiCheckboxField(_l("Sell together with"), coerce=int, validate_choice=False, default=[])


class VariationForm(PublicationTextFields, FlaskForm):
    """变卖 after the second 流拍 (decision 7): the price is fixed by law, the court sets the rest."""

    deposit = MoneyField(_l("Forfeitable portion on default (yuan)"), validators=[present])
    start_at = BeijingDateTimeField(_l("The 60-day period starts (Beijing time)"), validators=[present])
    balance_days = IntegerField(_l("Days to pay the balance (A39)"), default=15,
                                validators=[InputRequired(), NumberRange(min=1, max=365)])
    taxes = FieldList(FormField(TaxRow), min_entries=TAX_ROWS, max_entries=20)


def method_choices():
    return [SelectChoice("served", _l("Served (in writing or another confirmable way, A15)")),
            SelectChoice("published", _l("Unreachable: published on the platform (A17)")),
            SelectChoice("waived", _l("Waived in writing (A16)"))]


class NoticeForm(FlaskForm):
    """How and when one recipient was notified of the round (A15–A17, decision 28)."""

    #: ``party:<id>`` or ``holder:<id>``; filled by the view.
    recipient = SelectField(_l("Recipient"), validate_choice=True)
    method = RadioField(_l("How"), choices=method_choices, default="served", validators=[DataRequired()])
    detail = StringField(_l("Detail: how it was served, or why the recipient could not be reached"),
                         validators=[DataRequired(), Length(max=300)])
    at = BeijingDateTimeField(_l("Served, published or waived at (Beijing time)"), validators=[present])


def kind_choices():
    return [SelectChoice("person", _l("Natural person")), SelectChoice("enterprise", _l("Enterprise"))]


class PriorityHolderForm(FlaskForm):
    """A pre-emption right holder confirmed by the court with its rank (A25, A45)."""

    name = StringField(_l("Name or registered name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=kind_choices)
    id_number = StringField(_l("ID number / credit code"), validators=[DataRequired(), Length(max=30)])
    right = StringField(_l("Nature of the right (e.g. 承租人优先购买权)"), validators=[DataRequired(), Length(max=200)])
    rank = IntegerField(_l("Rank (1 is the highest; equal rights share a rank)"), default=1,
                        validators=[InputRequired(), NumberRange(min=1, max=9)])


def pause_choices():
    return [SelectChoice("suspend", _l("暂缓 (postpone, A46)")), SelectChoice("halt", _l("中止 (suspend by ruling, A46)"))]


class PauseForm(FlaskForm):
    kind = RadioField(_l("Decision"), choices=pause_choices, default="suspend", validators=[DataRequired()])
    reason = TextAreaField(_l("Reason (published at once, A48)"), validators=[DataRequired(), Length(max=2000)])


class EmergencyForm(FlaskForm):
    """The platform administrator's 暂缓 on a system failure or security risk (A47)."""

    reason = TextAreaField(_l("What failed (published at once and reported to the court, A47)"),
                           validators=[DataRequired(), Length(max=2000)])


class ResumeForm(FlaskForm):
    end_at = BeijingDateTimeField(_l("New end of bidding (optional; at least 24 hours from now, decision 8)"),
                                  validators=[Optional()])


def withdraw_ground_choices():
    return [SelectChoice(g, withdraw_ground_label(g)) for g in WITHDRAW_GROUNDS]


class WithdrawForm(FlaskForm):
    ground = SelectField(_l("Ground (B05/B06)"), choices=withdraw_ground_choices,
                         validators=[AnyOf(WITHDRAW_GROUNDS)])
    reason = TextAreaField(_l("Explanation (published)"), validators=[DataRequired(), Length(max=2000)])


def annul_ground_choices():
    return [SelectChoice(g, annul_ground_label(g)) for g in ANNUL_GROUNDS]


class AnnulForm(FlaskForm):
    ground = SelectField(_l("Ground (A52)"), choices=annul_ground_choices, validators=[AnyOf(ANNUL_GROUNDS)])
    reason = TextAreaField(_l("The ruling's reasons (published)"), validators=[DataRequired(), Length(max=2000)])


class AmountForm(FlaskForm):
    amount = MoneyField(_l("Balance received (yuan)"), validators=[present])


class NoteForm(FlaskForm):
    """A short record: the qualification check (D01), the handover (B08), the court's decision
    after a failed 变卖 (decision 7)."""

    note = TextAreaField(_l("Record"), validators=[DataRequired(), Length(max=2000)])


class TakeInPaymentForm(FlaskForm):
    """以物抵债 at a 流拍 (B04)."""

    party_id = SelectField(_l("Creditor (申请执行人)"), coerce=int, validate_choice=False)
    top_up = MoneyField(_l("Top-up of the surplus over the claim (yuan)"), default=None,
                        validators=[present])


class EmptyForm(FlaskForm):
    """Only a CSRF token (buttons that post)."""
