"""Pages of the ``auction`` package (blueprint mounted at ``/auction``)."""
from flask import Blueprint

bp = Blueprint("auction", __name__, url_prefix="/auction")
