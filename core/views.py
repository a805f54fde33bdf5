"""Core pages: the home page, language switch, health check and document verification."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, send_file, session
from sqlalchemy import func, select, text

from core.files import MalformedHash, check_sha256, file_store
from core.models import Document, SchedulerHeartbeat
from core.web import db_session, now, safe_next

bp = Blueprint("core", __name__)


@bp.get("/")
def home():
    """The public home page."""
    return render_template("core/home.html")


@bp.get("/lang/<code>")
def set_language(code: str):
    """Switch the interface language and go back to the page the user was on."""
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = code
    return redirect(safe_next("/"))


@bp.get("/healthz")
def healthz():
    """Machine-readable health: database reachable, scheduler heartbeat age, version."""
    body: dict = {"version": current_app.config["VERSION"], "clock": now().isoformat()}
    status = 200
    try:
        s = db_session()
        s.execute(text("SELECT 1"))
        body["database"] = "ok"
        last = s.scalar(
            select(func.max(SchedulerHeartbeat.beat_at)).where(SchedulerHeartbeat.active.is_(True))
        )
        if last is None:
            body["scheduler"] = {"status": "absent", "heartbeat_age_s": None}
        else:
            if last.tzinfo is None:
                last = last.replace(tzinfo=timezone.utc)
            age = (datetime.now(timezone.utc) - last).total_seconds()
            body["scheduler"] = {
                "status": "ok" if age < 30 else "stale",
                "heartbeat_age_s": round(age, 1),
            }
    except Exception as exc:  # noqa: BLE001 - health must answer, whatever broke
        body["database"] = f"error: {type(exc).__name__}"
        status = 503
    return jsonify(body), status


def _public_documents(sha256: str) -> list[Document]:
    try:
        sha256 = check_sha256(sha256.lower())
    except MalformedHash:
        abort(404)
    docs = db_session().scalars(
        select(Document).where(Document.sha256 == sha256, Document.public.is_(True))
    ).all()
    if not docs:
        abort(404)
    return list(docs)


@bp.get("/documents/<sha256>")
def verify_document(sha256: str):
    """Public verification page of a document: is this hash one the platform issued?

    :raise 404: unknown, malformed or non-public hash
    """
    docs = _public_documents(sha256)
    return render_template("core/document.html", documents=docs, sha256=docs[0].sha256)


@bp.get("/documents/<sha256>/file")
def download_document(sha256: str):
    """Download a public document (served with its stored media type).

    :raise 404: unknown, malformed or non-public hash
    """
    doc = _public_documents(sha256)[0]
    store = file_store(current_app)
    if not store.exists(doc.sha256):
        abort(404)
    return send_file(store.path(doc.sha256), mimetype=doc.media_type, download_name=f"{doc.sha256[:12]}.pdf"
                     if doc.media_type == "application/pdf" else doc.sha256[:12], max_age=3600)


def init_app(app) -> None:
    app.register_blueprint(bp)
