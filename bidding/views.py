"""Pages of the ``bidding`` package (blueprint mounted at ``/bidding``)."""
from flask import Blueprint

bp = Blueprint("bidding", __name__, url_prefix="/bidding")
