"""An Authorizer that maps users to TileMaker grants.

Every API route asks the server's authorizer for ``tilemaker_grants(user)``; a layer,
band, map, map group, box or source group with a ``grant`` the user lacks is absent
from listings and answers 403 on every route that touches its data.

    c.ServerApp.authorizer_class = "tilemaker_widget.server.auth.GrantsAuthorizer"
    c.GrantsAuthorizer.grants = {"alice": ["act-internal", "so-sat"], "*": ["public"]}
    c.GrantsAuthorizer.tilemaker_only = True   # public read-only deployments

``"*"`` lists the grants everyone (including an anonymous user on a token-less server)
holds. With ``tilemaker_only``, users may read the tilemaker API and pages and
nothing else (no kernels, terminals, contents or file registration).
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from traitlets import Bool, Dict, List, Unicode


class GrantsAuthorizer(Authorizer):
    grants = Dict(
        key_trait=Unicode(),
        value_trait=List(Unicode()),
        help="Username → grants. The key '*' gives grants to every user.",
    ).tag(config=True)

    tilemaker_only = Bool(
        False,
        help="Allow only reading the tilemaker API and pages (public read-only deployments).",
    ).tag(config=True)

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if self.tilemaker_only:
            return resource == "tilemaker" and action == "read"
        return True

    def tilemaker_grants(self, user: Any) -> set[str]:
        name = getattr(user, "username", None) or ""
        return set(self.grants.get("*", [])) | set(self.grants.get(name, []))
