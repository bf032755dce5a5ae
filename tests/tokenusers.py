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
