# jupyter_server_config.py: one of N identical tilemaker-widget processes.
#
# Production recipe: N `jupyter server` processes (about one per CPU core) serving the
# same TileMaker config, sharing one memcached, behind nginx (docs/deploy/nginx.conf).
#
#   memcached -p 11211 -l 127.0.0.1 -m 2048 -U 0       # cache size in MiB; -U 0: no UDP
#   for port in 8801 8802 8803 8804; do
#       TILEMAKER_PORT=$port jupyter server --config=/srv/tilemaker/jupyter_server_config.py &
#   done
#   nginx -p /srv/tilemaker/nginx -c /srv/tilemaker/nginx.conf
#
# (Under systemd, a template unit `tilemaker@.service` with
#  `Environment=TILEMAKER_PORT=%i` and `ExecStart=jupyter server --config=…` started as
#  tilemaker@8801 … tilemaker@8804 does the same, with restarts.)
#
# Every setting can also be given on the command line (`--TileMaker.cache_type=memcached`),
# which wins over this file. tests/test_multiprocess.py runs two processes from this
# file behind nginx and checks that a tile computed by one is served by the other
# from memcached.

import os

c = get_config()  # noqa: F821 (provided by Jupyter when it loads this file)

# -- the process ---------------------------------------------------------------
c.ServerApp.ip = "127.0.0.1"  # only nginx talks to it
c.ServerApp.port = int(os.environ.get("TILEMAKER_PORT", "8801"))
c.ServerApp.port_retries = 0  # fail loudly instead of moving to another port
c.ServerApp.open_browser = False
c.ServerApp.jpserver_extensions = {"tilemaker_widget": True}
# Requests arrive through nginx carrying the public Host header; trust its
# X-Forwarded-* headers for the client address and scheme.
c.ServerApp.allow_remote_access = True
c.ServerApp.trust_xheaders = True
# The same cookie secret in every process, so a login cookie set by one is valid
# in all (nginx sends each request to any of them). Create it once:
#   python -c "import os; print(os.urandom(32).hex())" > /srv/tilemaker/cookie_secret
#   chmod 600 /srv/tilemaker/cookie_secret
_secret = os.environ.get("TILEMAKER_COOKIE_SECRET_FILE", "/srv/tilemaker/cookie_secret")
if os.path.exists(_secret):
    c.ServerApp.cookie_secret_file = _secret
c.ServerApp.root_dir = os.environ.get("TILEMAKER_ROOT_DIR", os.getcwd())

# -- who may see what ---------------------------------------------------------
# A shared token (clients send `Authorization: token …` or open `…/tilemaker/?token=…`),
# or an empty token for a public site. Without a token anyone can read the maps that
# need no grant, and nothing else (see GrantsAuthorizer.tilemaker_only below).
c.IdentityProvider.token = os.environ.get("TILEMAKER_TOKEN", "")

c.ServerApp.authorizer_class = "tilemaker_widget.server.auth.GrantsAuthorizer"
# Read the tilemaker API and pages only: no kernels, terminals, file contents or
# sessions, whoever asks. Leave it on for a map server.
c.GrantsAuthorizer.tilemaker_only = True
# Grants per user name; "*" lists what everyone holds. A layer (or band, map, map
# group, source group, box) with `"grant": "act-internal"` in the config is invisible
# and answers 403 to users without that grant. Jupyter's token login does not name
# users (everyone is "Anonymous …"), so per-user grants need an identity provider that
# does, e.g. JupyterHub's; with a shared token or none, only "*" applies.
c.GrantsAuthorizer.grants = {
    "*": [],  # e.g. ["public"]
    # "alice": ["act-internal", "so-sat"],
}

# -- what is served ------------------------------------------------------------
# The TileMaker v3 data configuration (map groups, layers, sources, boxes); the same
# file TileMaker reads from $TILEMAKER_CONFIG_PATH, which is also the default here.
c.TileMaker.config_path = os.environ.get("TILEMAKER_CONFIG_PATH", "/srv/tilemaker/maps.json")
# Nobody may make this server open files by path (the widget's `register`); only the
# config's maps are served. (This is already the default on a token-less server.)
c.TileMaker.allow_registration = False

# -- the shared cache ------------------------------------------------------------
# All processes use one memcached, so each tile, histogram and aperture is computed
# once. If memcached stops, tiles are computed instead (a single warning in the log)
# and caching resumes by itself when it is back.
c.TileMaker.cache_type = "memcached"
c.TileMaker.memcached_host = os.environ.get("TILEMAKER_MEMCACHED_HOST", "127.0.0.1")
c.TileMaker.memcached_port = int(os.environ.get("TILEMAKER_MEMCACHED_PORT", "11211"))
c.TileMaker.memcached_pool_size = 8  # connections per process (≥ engine threads that hit the cache at once)
c.TileMaker.memcached_timeout = 0.5  # seconds before a call counts as failed
c.TileMaker.memcached_prefix = "tmw1"  # change it to share one memcached between sites
c.TileMaker.workers = 8  # engine threads per process
