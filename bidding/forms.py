"""Forms of the bidding pages: sign-up (S4 promise), the bank-transfer declaration (A22), a bid
with its idempotency key, and the buttons of the finance officer and the gateway simulator."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from auction.forms import MoneyField, present


class SignupForm(FlaskForm):
    """Sign up for a round. The housing promise is shown (and required by the service) only for
    housing lots (S4, decision 18)."""

    housing_promise = BooleanField(_l("I promise that I meet the local housing purchase qualification and will "
                                      "keep meeting it until the ruling (S4)"))
    accept = BooleanField(_l("I have read the announcement and the special notices; bidding means accepting the "
                             "property as it is, with its known and unknown defects (A13)"),
                          validators=[DataRequired(_l("Please confirm that you have read the announcement."))])


class BankTransferForm(FlaskForm):
    """The bidder says it transferred the deposit to the court's account (A22); the payer must
    be the bidder (decision 10)."""

    payer_name = StringField(_l("Payer's name (must be your real name, decision 10)"),
                             validators=[DataRequired(), Length(max=120)])
    bank_reference = StringField(_l("Bank reference of the transfer"), validators=[DataRequired(), Length(max=80)])


class BidForm(FlaskForm):
    """A bid. The idempotency key is generated per page load: a double click or a retry of the
    same form returns the first receipt instead of making a second bid."""

    amount = MoneyField(_l("Your bid (yuan)"), validators=[present])
    idempotency_key = HiddenField(validators=[DataRequired(), Length(min=8, max=64),
                                              Regexp(r"^[A-Za-z0-9_-]+$")])


class EmptyForm(FlaskForm):
    """A button (confirm a deposit, record a refund, pay in the simulator): the CSRF token only."""
