"""Every table, registered on Base.metadata for Alembic and create_app.

Kept apart from portal.db, which every model imports for Base: db itself imports no domain.
"""

from __future__ import annotations


def import_models() -> None:
    from portal.auth import models as _auth  # noqa: F401
    from portal.cases import models as _cases  # noqa: F401
    from portal.changes import models as _changes  # noqa: F401
    from portal.custody import models as _custody  # noqa: F401
    from portal.evidence import models as _evidence  # noqa: F401
    from portal.jobs import models as _jobs  # noqa: F401
    from portal.ratelimit import models as _ratelimit  # noqa: F401
    from portal.redactions import models as _redactions  # noqa: F401
    from portal.requests import models as _requests  # noqa: F401
    from portal.retention import models as _retention  # noqa: F401
    from portal.shares import models as _shares  # noqa: F401
    from portal.submissions import models as _submissions  # noqa: F401
    from portal.uploads import models as _uploads  # noqa: F401
