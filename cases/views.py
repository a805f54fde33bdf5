"""Officer pages for cases, parties, assets, series imports and case funds.

=========================================  =============================================
``/cases/``                                dashboard: cases, E01 pricing alerts, search
``/cases/new``                             register a case (officer)
``/cases/<id>``                            case page: parties, assets, case file, funds
``/cases/<id>/parties``                    add a party (POST)
``/cases/<id>/basis``                      upload (POST) / download (GET) the basis document
``/cases/<id>/assets/new``                 record a seized asset with photos and documents
``/cases/assets/<id>``                     asset page, more uploads (POST ``/files``)
``/cases/assets/<id>/edit``                correct an asset's details
``/cases/parties/<id>/invite``             invite a party to follow the case (POST)
``/cases/invitation/<token>``              the party sets up its login
``/cases/import``                          series import: upload → preview → confirm
``/cases/import/template.csv``             the CSV template with Chinese headers
``/cases/files/<sha256>``                  an asset's photo or document, with its type
=========================================  =============================================
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from accounts.access import roles_required
from accounts.models import Role, User
from cases import rules, services
from cases.forms import (
    AssetForm, BasisForm, CaseForm, ConfirmImportForm, EmptyForm, ImportForm, InvitationForm, PartyForm,
    UploadForm,
)
from cases.models import Asset, AssetFile, Case, Party, Series
from cases.services import AssetInput, PartyInput
from core.documents import documents_for
from core.files import MalformedHash, check_sha256, file_store
from core.i18n import translate_error
from core.money import MoneyError, parse_money
from core.web import db_session, now, rulebook

bp = Blueprint("cases", __name__, url_prefix="/cases")

STAFF = (Role.OFFICER, Role.FINANCE, Role.SUPERVISOR)
VIEWERS = (*STAFF, Role.PARTY)


def _vault():
    return current_app.extensions["identity_vault"]


def _links(kind: str, obj) -> list[tuple[str, str]]:
    """Links higher packages add to the case and asset pages (``app.extensions["case_links"]``
    and ``["asset_links"]``: callables ``(user, obj) -> [(label, url)]``), so cases never
    imports them (DESIGN.md §3)."""
    out: list[tuple[str, str]] = []
    for provider in current_app.extensions.get(f"{kind}_links", []):
        out += provider(current_user, obj) or []
    return out


def _refused(exc) -> None:
    db_session().rollback()
    flash(translate_error(exc), "error")


def _load_case(case_id: int, *, edit: bool = False) -> Case:
    """:raise 404: unknown or another court's case; :raise 403: read-only for this user."""
    try:
        return services.get_case_for(db_session(), current_user, case_id, edit=edit)
    except services.CaseNotFound:
        abort(404)
    except services.NotAllowed:
        abort(403)


def _load_asset(asset_id: int, *, edit: bool = False) -> Asset:
    asset = db_session().get(Asset, asset_id)
    if asset is None:
        abort(404)
    _load_case(asset.case_id, edit=edit)
    return asset


def _store_uploads(asset: Asset, kind: str, files) -> int:
    stored = 0
    for f in files or []:
        if not f or not f.filename:
            continue
        try:
            services.attach_asset_file(db_session(), actor=current_user, asset_id=asset.id, kind=kind,
                                       filename=f.filename, data=f.read(), store=file_store(current_app), now=now())
            stored += 1
        except services.DomainError as exc:
            _refused(exc)
    return stored


@bp.get("/")
@roles_required(*VIEWERS)
def dashboard():
    """Cases the user may see, and assets whose pricing is overdue (E01)."""
    q = request.args.get("q", "")
    cases = services.visible_cases(db_session(), current_user, query=q)
    overdue = services.overdue_pricing(db_session(), user=current_user, today=rules.local_today(now()),
                                       rulebook=rulebook())
    return render_template("cases/dashboard.html", cases=cases, overdue=overdue, q=q)


def _officer_choices(form: CaseForm) -> None:
    officers = db_session().scalars(select(User).where(User.court_id == current_user.court_id,
                                                       User.role == Role.OFFICER, User.active.is_(True))
                                    .order_by(User.display_name)).all()
    form.officer_id.choices = [SelectChoice(o.id, o.display_name) for o in officers]
    series = db_session().scalars(select(Series).where(Series.court_id == current_user.court_id)
                                  .order_by(Series.name)).all()
    form.series_id.choices = [SelectChoice(0, "—")] + [SelectChoice(s.id, s.name) for s in series]


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def new_case():
    """Register a case of the officer's court with its applicant and debtor."""
    form = CaseForm()
    _officer_choices(form)
    if request.method == "GET":
        form.officer_id.data = current_user.id
    if form.validate_on_submit():
        try:
            claim = parse_money(form.claim_amount.data)
        except MoneyError:
            flash(_("The claim amount is not an amount."), "error")
            return render_template("cases/new.html", form=form)
        parties = [
            PartyInput(rules.PartyRole.APPLICANT, form.applicant_kind.data, form.applicant_name.data,
                       form.applicant_id.data, form.applicant_legal_rep.data, form.applicant_phone.data,
                       form.applicant_email.data, form.applicant_address.data),
            PartyInput(rules.PartyRole.DEBTOR, form.debtor_kind.data, form.debtor_name.data, form.debtor_id.data,
                       form.debtor_legal_rep.data, form.debtor_phone.data, form.debtor_email.data,
                       form.debtor_address.data),
        ]
        try:
            case = services.create_case(db_session(), actor=current_user, number=form.number.data,
                                        basis=form.basis.data, filed_on=form.filed_on.data, claim_amount=claim,
                                        parties=parties, vault=_vault(), now=now(),
                                        officer_id=form.officer_id.data or None,
                                        series_id=form.series_id.data or None)
        except services.DomainError as exc:
            _refused(exc)
            return render_template("cases/new.html", form=form)
        upload = form.basis_file.data
        if upload and upload.filename:
            try:
                services.set_basis_document(db_session(), actor=current_user, case_id=case.id,
                                            filename=upload.filename, data=upload.read(),
                                            store=file_store(current_app), now=now())
            except services.DomainError as exc:
                _refused(exc)
        flash(_("Case %(number)s registered.", number=case.number), "success")
        return redirect(url_for("cases.case_page", case_id=case.id))
    return render_template("cases/new.html", form=form)


@bp.get("/<int:case_id>")
@roles_required(*VIEWERS)
def case_page(case_id: int):
    """Everything about a case: parties, assets and their stage, the case file, the funds.

    :raise 404: unknown or another court's case
    """
    case = _load_case(case_id)
    editable = services.can_edit_case(current_user, case)
    entries = services.fund_entries(db_session(), case.id)
    return render_template(
        "cases/case.html", case=case, editable=editable, party_form=PartyForm(), basis_form=BasisForm(),
        button=EmptyForm(), documents=documents_for(db_session(), f"case:{case.id}"),
        entries=entries, balances=services.fund_balances(db_session(), case.id),
        reconciled=not services.reconcile_funds(db_session(), case.id),
        today=rules.local_today(now()), rulebook=rulebook(), invitation=request.args.get("invitation"),
        links=_links("case", case),
    )


@bp.post("/<int:case_id>/parties")
@roles_required(Role.OFFICER)
def add_party(case_id: int):
    """Add an applicant or debtor. :raise 404, 403:"""
    case = _load_case(case_id, edit=True)
    form = PartyForm()
    if form.validate_on_submit():
        try:
            services.add_party(db_session(), actor=current_user, case_id=case.id, vault=_vault(), now=now(),
                               party=PartyInput(form.role.data, form.kind.data, form.name.data, form.id_number.data,
                                                form.legal_rep.data, form.phone.data, form.email.data,
                                                form.address.data))
            flash(_("Party added."), "success")
        except services.DomainError as exc:
            _refused(exc)
    else:
        flash(_("Please fill in the party's name and ID number."), "error")
    return redirect(url_for("cases.case_page", case_id=case.id) + "#parties")


@bp.post("/parties/<int:party_id>/invite")
@roles_required(Role.OFFICER)
def invite(party_id: int):
    """Create an invitation link for a party (shown once to the officer). :raise 404, 403:"""
    party = db_session().get(Party, party_id)
    if party is None:
        abort(404)
    _load_case(party.case_id, edit=True)
    if not EmptyForm().validate_on_submit():
        abort(400)
    token = services.invite_party(db_session(), actor=current_user, party_id=party.id, now=now(),
                                  base_url=current_app.config["PUBLIC_BASE_URL"])
    link = url_for("cases.invitation", token=token, _external=True)
    flash(_("Invitation link for %(name)s (give it to the party; it works once): %(link)s",
            name=party.name, link=link), "info")
    return redirect(url_for("cases.case_page", case_id=party.case_id) + "#parties")


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def invitation(token: str):
    """A party sets up its login from an invitation link. :raise 404: invalid link"""
    try:
        party = services.party_for_invitation(db_session(), token)
    except services.InvitationInvalid:
        abort(404)
    form = InvitationForm()
    if form.validate_on_submit():
        try:
            user = services.accept_invitation(db_session(), token=token, username=form.username.data,
                                              password=form.password.data, now=now())
        except services.DomainError as exc:
            _refused(exc)
            return render_template("cases/invitation.html", form=form, party=party)
        login_user(user)
        flash(_("Welcome. You can now follow your case here."), "success")
        return redirect(url_for("cases.dashboard"))
    return render_template("cases/invitation.html", form=form, party=party)


@bp.route("/<int:case_id>/basis", methods=["GET", "POST"])
@roles_required(*VIEWERS)
def basis(case_id: int):
    """Download (GET) or upload (POST, officer) the enforcement basis document. :raise 404, 403:"""
    case = _load_case(case_id, edit=request.method == "POST")
    store = file_store(current_app)
    if request.method == "GET":
        if not case.basis_file_sha256 or not store.exists(case.basis_file_sha256):
            abort(404)
        data = store.read(case.basis_file_sha256)
        mimetype = "application/pdf" if data[:5] == b"%PDF-" else "application/octet-stream"
        return send_file(store.path(case.basis_file_sha256), mimetype=mimetype,
                         download_name=f"basis-{case.id}.pdf" if mimetype == "application/pdf" else f"basis-{case.id}")
    form = BasisForm()
    if form.validate_on_submit():
        try:
            services.set_basis_document(db_session(), actor=current_user, case_id=case.id,
                                        filename=form.file.data.filename, data=form.file.data.read(),
                                        store=store, now=now())
            flash(_("Enforcement basis document uploaded."), "success")
        except services.DomainError as exc:
            _refused(exc)
    return redirect(url_for("cases.case_page", case_id=case.id))


def _asset_input(form: AssetForm) -> AssetInput:
    return AssetInput(category=form.category.data, title=form.title.data, region_code=form.region_code.data,
                      location=form.location.data, seized_on=form.seized_on.data,
                      description=form.description.data or "", defects=form.defects.data or "",
                      encumbrances=form.encumbrances.data or "", occupancy=form.occupancy.data or "",
                      tax_notes=form.tax_notes.data or "")


@bp.route("/<int:case_id>/assets/new", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def new_asset(case_id: int):
    """Record a seized asset, with photos and documents. :raise 404, 403:"""
    case = _load_case(case_id, edit=True)
    form = AssetForm()
    if request.method == "GET":
        form.region_code.data = case.court.region_code
    if form.validate_on_submit():
        try:
            asset = services.add_asset(db_session(), actor=current_user, case_id=case.id,
                                       asset=_asset_input(form), now=now())
        except services.DomainError as exc:
            _refused(exc)
            return render_template("cases/asset_form.html", form=form, case=case, asset=None)
        photos = _store_uploads(asset, "photo", form.photos.data)
        docs = _store_uploads(asset, "document", form.documents.data)
        flash(_("Asset recorded with %(photos)s photos and %(docs)s documents.", photos=photos, docs=docs), "success")
        return redirect(url_for("cases.asset_page", asset_id=asset.id))
    return render_template("cases/asset_form.html", form=form, case=case, asset=None)


@bp.get("/assets/<int:asset_id>")
@roles_required(*VIEWERS)
def asset_page(asset_id: int):
    """An asset: details, photos, documents, stage. :raise 404:"""
    asset = _load_asset(asset_id)
    return render_template("cases/asset.html", asset=asset, case=asset.case,
                           editable=services.can_edit_case(current_user, asset.case), upload_form=UploadForm(),
                           specialty=rules.specialty_for(asset.category),
                           lead_days=rules.announcement_lead_days(asset.category, round_no=1, rulebook=rulebook()),
                           deadline=rules.pricing_deadline(asset.seized_on, rulebook()),
                           overdue=rules.pricing_overdue(asset.seized_on, asset.stage, rules.local_today(now()),
                                                         rulebook()),
                           links=_links("asset", asset))


@bp.route("/assets/<int:asset_id>/edit", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def edit_asset(asset_id: int):
    """Correct an asset's details. :raise 404, 403:"""
    asset = _load_asset(asset_id, edit=True)
    form = AssetForm(obj=asset)
    if form.validate_on_submit():
        try:
            services.update_asset(db_session(), actor=current_user, asset_id=asset.id, asset=_asset_input(form),
                                  now=now())
            flash(_("Asset details saved."), "success")
            return redirect(url_for("cases.asset_page", asset_id=asset.id))
        except services.DomainError as exc:
            _refused(exc)
    return render_template("cases/asset_form.html", form=form, case=asset.case, asset=asset)


@bp.post("/assets/<int:asset_id>/files")
@roles_required(Role.OFFICER)
def upload_files(asset_id: int):
    """Add photos or documents to an asset. :raise 404, 403:"""
    asset = _load_asset(asset_id, edit=True)
    form = UploadForm()
    if form.validate_on_submit():
        n = _store_uploads(asset, form.kind.data, form.files.data)
        if n:
            flash(_("%(n)s files added.", n=n), "success")
    return redirect(url_for("cases.asset_page", asset_id=asset.id))


@bp.get("/files/<sha256>")
@roles_required(*VIEWERS)
def asset_file(sha256: str):
    """Serve an asset's photo or document with its checked media type, to those who may see
    the case. :raise 404:"""
    try:
        sha256 = check_sha256(sha256)
    except MalformedHash:
        abort(404)
    for f in db_session().scalars(select(AssetFile).where(AssetFile.sha256 == sha256)):
        if services.can_view_case(current_user, f.asset.case):
            store = file_store(current_app)
            if not store.exists(sha256):
                abort(404)
            return send_file(store.path(sha256), mimetype=f.media_type, download_name=f.filename,
                             as_attachment=f.kind == "document", max_age=3600)
    abort(404)


@bp.route("/import", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def import_series():
    """Import a series from CSV: the whole file is checked first and every problem listed;
    nothing is written until the file is clean, then everything in one transaction."""
    form = ImportForm()
    confirm = ConfirmImportForm()
    store = file_store(current_app)
    if request.form.get("step") == "confirm" and confirm.validate_on_submit():
        try:
            sha = check_sha256(confirm.file_sha256.data)
            data = store.read(sha)
        except (MalformedHash, FileNotFoundError, OSError):
            abort(400)
        try:
            result = services.import_series(db_session(), actor=current_user, data=data,
                                            series_name=confirm.series_name.data, vault=_vault(), now=now())
        except services.DomainError as exc:
            _refused(exc)
            return redirect(url_for("cases.import_series"))
        flash(_("Imported %(cases)s cases with %(assets)s assets.", cases=result.cases, assets=result.assets),
              "success")
        return redirect(url_for("cases.dashboard"))
    preview = None
    sha = None
    if request.form.get("step") != "confirm" and form.validate_on_submit():
        data = form.file.data.read()
        try:
            preview = services.preview_import(db_session(), actor=current_user, data=data, now=now())
        except services.DomainError as exc:
            _refused(exc)
            return render_template("cases/import.html", form=form, preview=None, confirm=confirm)
        if preview.ok:
            sha = store.put(data)
            confirm.file_sha256.data = sha
            confirm.series_name.data = form.series_name.data
    return render_template("cases/import.html", form=form, preview=preview, confirm=confirm)


@bp.get("/import/template.csv")
@roles_required(Role.OFFICER)
def import_template():
    """The CSV template with Chinese headers and one example row."""
    return current_app.response_class(
        services.import_template(), mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=series-import-template.csv"})
