"""Pages of the ``cases`` package (blueprint mounted at ``/cases``)."""
from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/cases")
