"""An IdentityProvider naming users by token, for grant tests in server subprocesses.

    --ServerApp.identity_provider_class=tokenusers.TokenUsers
    --TokenUsers.users='{"alice-token": "alice", "bob-token": "bob"}'

(`tests/` is on the subprocess's PYTHONPATH.) The server's own token still works and
gives Jupyter's anonymous user.
"""

from __future__ import annotations

from jupyter_server.auth.identity import IdentityProvider, User
from traitlets import Dict, Unicode


class TokenUsers(IdentityProvider):
    users = Dict(key_trait=Unicode(), value_trait=Unicode(), help="token → user name").tag(config=True)

    async def get_user_token(self, handler):
        token = self.get_token(handler)
        if token and token in self.users:
            name = self.users[token]
            return User(username=name, name=name, display_name=name)
        return await super().get_user_token(handler)


GRANTS = """\
c.ServerApp.identity_provider_class = "tokenusers.TokenUsers"
c.TokenUsers.users = {"alice-token": "alice", "bob-token": "bob"}
c.ServerApp.authorizer_class = "tilemaker_widget.server.auth.GrantsAuthorizer"
c.GrantsAuthorizer.grants = {"alice": ["collab"], "*": []}
"""


def grants_config(**tilemaker: object) -> str:
    """A server config file's text: users alice (grant ``collab``) and bob (no grant) by
    token, the grants authorizer, and these ``c.TileMaker`` settings."""
    return GRANTS + "".join(f"c.TileMaker.{k} = {v!r}\n" for k, v in tilemaker.items())
