"""Officers' pages of the list of restricted persons (decision 19) and of staff and close
relatives (A53).

==========================================  ====================================================
``/bidding/restrictions``                   officer: the list, searched by name or number
``/bidding/restrictions/import``            officer: upload a CSV list (every problem listed)
``/bidding/restrictions/template.csv``      officer: the CSV template with example rows
``/bidding/restrictions/<id>``              officer: an entry and its lift form
``/bidding/restrictions/<id>/lift``         officer: lift the entry with a reason (POST)
==========================================  ====================================================

Officers of every court see the whole list: it is a national list. Each handler parses, checks
the role (403), calls one use case of :mod:`bidding.restrictions` and shows its refusal in the
user's language; a refused import changes nothing.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.access import roles_required
from accounts.models import Role
from bidding import restrictions
from bidding.models import RestrictedPerson, RestrictionKind
from bidding.restriction_forms import LiftForm, RestrictionImportForm
from cases.rules import local_today
from core.i18n import translate_error, translate_message
from core.text import DomainError
from core.web import db_session, now

bp = Blueprint("restrictions", __name__, url_prefix="/bidding/restrictions")

PER_PAGE = 50
_QUERY_LEN = 100


def _vault():
    return current_app.extensions["identity_vault"]


def _page_arg() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isascii() and value.isdigit() and 0 < int(value) <= 100_000 else 1


def _entry(entry_id: int) -> RestrictedPerson:
    """:raise 404: unknown entry."""
    try:
        return restrictions.get_entry(db_session(), viewer=current_user, entry_id=entry_id)
    except restrictions.NotFound:
        abort(404)


def kind_label(kind) -> str:
    return _(restrictions.KIND_LABELS[RestrictionKind(kind)])


@bp.get("")
@roles_required(Role.OFFICER)
def index():
    """The list, latest import first: ``?q=`` part of a name or a whole identity number,
    ``?kind=``, ``?active=1`` only the entries that bar today, ``?page=``."""
    q = request.args.get("q", "").strip()[:_QUERY_LEN]
    kind = request.args.get("kind", "")
    kind = kind if kind in {k.value for k in RestrictionKind} else ""
    active = request.args.get("active") == "1"
    page = _page_arg()
    today = local_today(now())
    found = restrictions.list_entries(db_session(), viewer=current_user, vault=_vault(), query=q,
                                      kind=RestrictionKind(kind) if kind else None,
                                      active_on=today if active else None, limit=PER_PAGE,
                                      offset=(page - 1) * PER_PAGE)
    pages = max(1, -(-found.total // PER_PAGE))
    return render_template("bidding/restrictions.html", page_entries=found.entries, total=found.total, q=q,
                           kind=kind, active=active, page=page, pages=pages, today=today,
                           kinds=list(RestrictionKind), kind_label=kind_label)


@bp.route("/import", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def import_list():
    """Upload a CSV list: every row is checked first and every problem listed with its line;
    nothing is written unless all rows are correct, then all of them in one transaction."""
    form = RestrictionImportForm()
    problems = []
    if form.validate_on_submit():
        data = form.file.data.read(restrictions.MAX_BYTES + 1)
        try:
            result = restrictions.import_csv(db_session(), actor=current_user, data=data, vault=_vault(), now=now())
        except restrictions.ListRefused as exc:
            db_session().rollback()
            flash(translate_error(exc), "error")
            problems = [(p.line, translate_message(p.message, p.params)) for p in exc.problems]
        except DomainError as exc:
            db_session().rollback()
            flash(translate_error(exc), "error")
        else:
            flash(_("List imported: %(created)s new entries, %(updated)s updated, %(unchanged)s unchanged.",
                    created=result.created, updated=result.updated, unchanged=result.unchanged), "success")
            return redirect(url_for("restrictions.index"))
    elif request.method == "POST":
        db_session().rollback()
        flash(_("Choose a CSV file to upload; nothing was changed."), "error")
    return render_template("bidding/restrictions_import.html", form=form, problems=problems,
                           max_rows=restrictions.MAX_ROWS, max_mb=restrictions.MAX_BYTES // (1024 * 1024),
                           kinds=list(RestrictionKind), kind_label=kind_label)


@bp.get("/template.csv")
@roles_required(Role.OFFICER)
def template():
    """The CSV template: the Chinese headers and an example row of each kind."""
    return current_app.response_class(
        restrictions.template_csv(), mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=restricted-persons-template.csv"})


@bp.get("/<int:entry_id>")
@roles_required(Role.OFFICER)
def entry(entry_id: int):
    """An entry: who, which list, its source and dates, who imported and who lifted it.

    :raise 404: unknown entry.
    """
    row = _entry(entry_id)
    return render_template("bidding/restrictions_entry.html", entry=row, form=LiftForm(),
                           today=local_today(now()), kind_label=kind_label)


@bp.post("/<int:entry_id>/lift")
@roles_required(Role.OFFICER)
def lift(entry_id: int):
    """Lift the entry with a reason, from today or an earlier day of the court's decision.

    :raise 404: unknown entry.
    """
    row = _entry(entry_id)
    form = LiftForm()
    if not form.validate_on_submit():
        db_session().rollback()
        for f in form:
            for error in f.errors:
                flash(f"{f.label.text}{_(': ')}{error}", "error")
        return render_template("bidding/restrictions_entry.html", entry=row, form=form,
                               today=local_today(now()), kind_label=kind_label), 400
    try:
        restrictions.lift(db_session(), actor=current_user, entry_id=row.id, reason=form.reason.data,
                          lifted_on=form.lifted_on.data, now=now())
    except restrictions.NotFound:
        db_session().rollback()
        abort(404)
    except DomainError as exc:
        db_session().rollback()
        flash(translate_error(exc), "error")
        return render_template("bidding/restrictions_entry.html", entry=row, form=form,
                               today=local_today(now()), kind_label=kind_label), 409
    flash(_("The entry is lifted."), "success")
    return redirect(url_for("restrictions.entry", entry_id=row.id))


def register_pages(app) -> None:
    """The officers' navigation entry of the list. Idempotent."""
    if app.extensions.get("restriction_pages"):
        return
    app.extensions["restriction_pages"] = True
    from core.nav import NavEntry, register_nav

    register_nav(app, NavEntry(lambda: _("Restricted persons"), "restrictions.index", (Role.OFFICER,), order=25))
