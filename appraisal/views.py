"""Pages of the ``appraisal`` package (blueprint mounted at ``/appraisal``)."""
from flask import Blueprint

bp = Blueprint("appraisal", __name__, url_prefix="/appraisal")
