"""The use-case context of the appraisal package (kept for its callers; see core.context)."""
from core.context import Context, context_for

__all__ = ["Context", "context_for"]
