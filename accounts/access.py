"""Access checks for views of every package: login and role requirements."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from accounts.models import Role


def roles_required(*roles: Role):
    """Require a logged-in user with one of ``roles``.

    :raise 401→login: when anonymous; :raise 403: when the role does not match.
    """

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
