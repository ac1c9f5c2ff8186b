#!/usr/bin/env bash
# tests/openstack/glance-keystone.sh -- run a REAL OpenStack Glance 33 (image API v2) and
# Keystone 30 (identity API v3) on 127.0.0.1 for image-crawler's integration tests
# (tests/openstack.rs). No systemd, no Docker; only PyPI (pip) on the first install.
# Adapted from the recipe in ../shared/openstack (see its NOTES.md for every pitfall solved).
#
#   glance-keystone.sh start  [DIR]   install (once) + configure + start, wait until ready
#   glance-keystone.sh stop   [DIR]   stop everything started from DIR (PID files)
#   glance-keystone.sh status [DIR]   PIDs, health, RSS (exit 1 when a service is down)
#   glance-keystone.sh install [DIR]  only create the venv
#   glance-keystone.sh clean  [DIR]   stop + delete all state under DIR except the venv
# DIR defaults to $GK_DIR or <project>/tests/.cache/openstack. All state (SQLite DBs, images,
# fernet keys, logs, PID files, clouds.yaml) lives under DIR, so several instances on other
# ports can run side by side. Idempotent: "start" on a running setup only re-checks health.
#
# Then: IMAGE_CRAWLER_TEST_CLOUDS=DIR/clouds.yaml cargo test --test openstack
#
# Environment knobs (defaults in brackets):
#   GK_VENV      venv path [<project>/tests/.cache/venv-openstack]; GK_PYTHON interpreter [python3]
#   GK_GLANCE_PORT [9292]  GK_KEYSTONE_PORT [5000]
#   GK_AUTH      keystone | noauth   [keystone]  noauth = Glance only (no Keystone), every request
#                is project "noauth-project" with roles admin,member,reader
#   GK_WSGI      gunicorn | uwsgi    [gunicorn]  uwsgi is compiled by pip (needs gcc + headers)
#   GK_ADMIN_PASSWORD [admin-secret]  GK_DEMO_PASSWORD [demo-secret]  GK_DEBUG [false]
#   GK_TOKEN_EXPIRATION  keystone token lifetime in seconds [3600] (small values test re-auth)
#   GK_HASHING_ALGORITHM Glance's `hashing_algorithm` (its os_hash_algo) [sha512]
# On a fresh Debian 12 it installs python3-venv/python3-pip with apt-get when run as root.
set -euo pipefail

CMD=${1:-start}
PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${2:-${GK_DIR:-$PROJECT_ROOT/tests/.cache/openstack}}
mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
# settings chosen at "start" are remembered, so stop/status/smoke need no environment
# shellcheck disable=SC1091
[ -f "$DIR/gk-settings.sh" ] && . "$DIR/gk-settings.sh"
VENV=${GK_VENV:-$PROJECT_ROOT/tests/.cache/venv-openstack}
PYTHON=${GK_PYTHON:-python3}
AUTH=${GK_AUTH:-keystone}
WSGI=${GK_WSGI:-gunicorn}
HOST=127.0.0.1
GLANCE_PORT=${GK_GLANCE_PORT:-9292}
KEYSTONE_PORT=${GK_KEYSTONE_PORT:-5000}
ADMIN_PASSWORD=${GK_ADMIN_PASSWORD:-admin-secret}
DEMO_PASSWORD=${GK_DEMO_PASSWORD:-demo-secret}
GLANCE_SERVICE_PASSWORD=${GK_GLANCE_SERVICE_PASSWORD:-glance-secret}
APP_CRED_SECRET=${GK_APP_CRED_SECRET:-demo-appcred-secret}
REGION=RegionOne
DEBUG=${GK_DEBUG:-false}
HASHING_ALGORITHM=${GK_HASHING_ALGORITHM:-sha512}
TOKEN_EXPIRATION=${GK_TOKEN_EXPIRATION:-3600}
GLANCE_URL=http://$HOST:$GLANCE_PORT
KEYSTONE_URL=http://$HOST:$KEYSTONE_PORT/v3
LOGS=$DIR/logs; RUN=$DIR/run; KS=$DIR/keystone; GL=$DIR/glance
REQS="glance==33.0.0 keystone==30.0.0 gunicorn==27.0.1"
[ "$WSGI" = uwsgi ] && REQS="$REQS uWSGI==2.0.31"
case "$AUTH" in keystone|noauth) ;; *) echo "GK_AUTH must be keystone or noauth" >&2; exit 2;; esac
case "$WSGI" in gunicorn|uwsgi) ;; *) echo "GK_WSGI must be gunicorn or uwsgi" >&2; exit 2;; esac

log() { printf '[gk %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1fs", b-a}'; }

# ---------------------------------------------------------------- install
write_constraints() {
# pip freeze of a venv where glance 33.0.0 + keystone 30.0.0 (OpenStack 2026.2) passed the recipe's smoke test
cat > "$1" <<'CONSTRAINTS'
alembic==1.20.1
amqp==5.4.2
aniso8601==10.0.1
attrs==26.1.0
automaton==3.5.0
autopage==0.6.0
bcrypt==5.0.0
blinker==1.9.0
cachetools==8.0.2
castellan==5.8.0
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
click==8.5.1
cliff==4.17.0
cmd2==4.3.1
cotyledon==2.2.0
cryptography==50.0.2
cursive==0.3.1
debtcollector==3.1.0
decorator==5.3.1
defusedxml==0.7.1
dnspython==2.9.2
dogpile.cache==1.5.0
elementpath==4.8.0
eventlet==0.41.3
fasteners==0.20
Flask==3.1.3
Flask-RESTful==0.3.10
futurist==3.5.0
glance==33.0.0
glance_store==5.7.0
greenlet==3.5.6
gunicorn==27.0.1
httplib2==0.32.1
idna==3.20
importlib_metadata==10.2.0
iso8601==2.1.0
itsdangerous==2.2.0
Jinja2==3.1.6
jmespath==1.1.0
jsonpatch==1.48
jsonpointer==3.12
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
keystone==30.0.0
keystoneauth1==5.18.1
keystonemiddleware==13.0.1
kombu==5.7.0
lazy-importer==0.1.0
Mako==1.4.3
markdown-it-py==4.3.0
MarkupSafe==3.0.4
mdurl==0.1.2
msgpack==1.2.4
netaddr==1.3.0
networkx==3.6.1
oauthlib==4.0.1
openstacksdk==4.22.0
os-service-types==1.9.0
oslo.cache==4.3.0
oslo.concurrency==7.6.1
oslo.config==10.7.0
oslo.context==6.5.0
oslo.db==18.1.1
oslo.i18n==6.9.0
oslo.limit==2.12.0
oslo.log==8.3.2
oslo.messaging==18.3.1
oslo.metrics==0.17.0
oslo.middleware==8.2.0
oslo.policy==6.0.1
oslo.reports==3.9.0
oslo.serialization==5.11.0
oslo.service==4.8.0
oslo.upgradecheck==2.8.0
oslo.utils==10.2.0
osprofiler==4.4.0
packaging==26.4
Paste==3.10.1
PasteDeploy==3.1.0
pbr==7.1.3
platformdirs==4.14.8
prettytable==3.18.0
prometheus_client==0.26.0
prompt_toolkit==3.0.53
psutil==7.2.2
pycadf==4.1.0
pycparser==3.12
pydot==4.0.1
Pygments==2.21.0
PyJWT==2.15.1
pyOpenSSL==26.4.0
pyparsing==3.3.3
pyperclip==1.11.0
pysaml2==7.5.5
python-barbicanclient==7.6.0
python-dateutil==4.0.0
python-keystoneclient==6.0.0
pytz==2026.6
PyYAML==6.0.4
referencing==0.37.0
repoze-lru==0.8
requests==2.34.2
retrying==1.4.2
rfc3986==2.0.0
rich==15.0.0
rich-argparse==1.8.0
Routes==2.5.1
rpds-py==2026.9.1
setproctitle==1.3.8
simplegeneric==0.8.1
six==1.17.0
SQLAlchemy==2.1.9
statsd==4.0.1
stevedore==5.10.0
taskflow==6.5.0
tenacity==9.2.1
testresources==2.1.2
testscenarios==0.7.0
typing_extensions==4.16.0
tzdata==2026.6
urllib3==2.8.0
uWSGI==2.0.31
vine==5.1.0
wcwidth==0.9.4
WebOb==1.8.11
Werkzeug==3.1.9
wrapt==2.5.2
WSME==0.13.0
xmlschema==2.5.1
yappi==1.7.6
zipp==4.1.2
CONSTRAINTS
}

# A fresh Debian 12 has python3 but not always venv/ensurepip; install them when we are root.
ensure_python() {
  if "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing python3-venv and python3-pip with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
  else
    log "$PYTHON lacks venv/ensurepip; install python3-venv (Debian) or set GK_PYTHON"; return 1
  fi
}

install() {
  local stamp="$VENV/.gk-installed"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$REQS" ]; then return 0; fi
  ensure_python
  local t0; t0=$(now)
  log "creating venv $VENV and installing: $REQS (first time ~30-60s)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  mkdir -p "$DIR" "$(dirname "$VENV")"; write_constraints "$DIR/constraints.txt"
  # shellcheck disable=SC2086
  # keep pip's .pyc compilation: --no-compile halves the install but, with PYTHONDONTWRITEBYTECODE=1
  # (set on these machines), every later start then takes ~3.5s instead of ~1.3s per service
  "$VENV/bin/pip" install -q --disable-pip-version-check -c "$DIR/constraints.txt" $REQS
  echo "$REQS" > "$stamp"
  log "install done in $(since "$t0")"
}

# ---------------------------------------------------------------- helpers
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_http URL SECONDS PIDFILE: poll until URL answers (any HTTP status < 500)
wait_http() {
  "$VENV/bin/python" - "$1" "$2" "$3" <<'PY'
import os, sys, time, urllib.request, urllib.error
url, limit, pidfile = sys.argv[1], float(sys.argv[2]), sys.argv[3]
deadline = time.time() + limit
while time.time() < deadline:
    try:
        urllib.request.urlopen(url, timeout=5); sys.exit(0)
    except urllib.error.HTTPError as e:
        if e.code < 500: sys.exit(0)
    except Exception:
        pass
    try:
        os.kill(int(open(pidfile).read().strip()), 0)
    except Exception:
        if time.time() > deadline - limit + 3: sys.exit(3)   # server process is gone
    time.sleep(0.2)
sys.exit(1)
PY
}

port_busy() {
  "$VENV/bin/python" -c 'import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1])))==0 else 1)' "$1"
}

# write_wsgi_entry NAME UPSTREAM_MODULE: $DIR/NAME/wsgi/gk_NAME_app.py imports the upstream
# WSGI entry point after installing the SQLite BEGIN IMMEDIATE hook.
write_wsgi_entry() {
  local wdir=$DIR/$1/wsgi
  mkdir -p "$wdir"
  cat > "$wdir/gk_sqlite_immediate.py" <<'PY'
"""TEST-ONLY: make every SQLite transaction opened by oslo.db start with BEGIN IMMEDIATE.

oslo.db turns off pysqlite's implicit transactions and emits a plain (deferred) BEGIN.
A deferred transaction that reads and then writes deadlocks with a concurrent writer,
and SQLite then fails at once with "database is locked" (the busy timeout does not
apply to that case): glance answered HTTP 500 to ~15% of requests with only two
concurrent clients. BEGIN IMMEDIATE takes the write lock up front and waits for it
(busy timeout, ?timeout=30 in the connection URL), serializing instead of failing."""
from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, "before_cursor_execute", retval=True)
def _begin_immediate(conn, cursor, statement, parameters, context, executemany):
    if conn.dialect.name == "sqlite" and statement.strip().upper() == "BEGIN":
        statement = "BEGIN IMMEDIATE"
    return statement, parameters
PY
  printf 'import gk_sqlite_immediate  # noqa: F401\nfrom %s import application  # noqa: F401\n' "$2" \
    > "$wdir/gk_$1_app.py"
}

# start_wsgi NAME PORT HEALTH_URL ENV_ASSIGNMENT   (app: $DIR/NAME/wsgi/gk_NAME_app.py)
start_wsgi() {
  local name=$1 port=$2 health=$3 envvar=$4 pidfile=$RUN/$1.pid t0
  local module=gk_${1}_app:application pypath=$DIR/$1/wsgi
  if pid_alive "$pidfile"; then
    if wait_http "$health" 5 "$pidfile"; then log "$name already running (pid $(cat "$pidfile"))"; return 0; fi
    log "$name pid $(cat "$pidfile") alive but not healthy"; return 1
  fi
  rm -f "$pidfile"
  if port_busy "$port"; then log "port $port is already in use by something else"; return 1; fi
  t0=$(now)
  if [ "$WSGI" = gunicorn ]; then
    # gunicorn reads ./gunicorn.conf.py; we run it with NO command-line arguments because
    # keystone parses sys.argv with oslo.config and dies on gunicorn's flags (exit code 2).
    cat > "$DIR/$name/wsgi/gunicorn.conf.py" <<PY
wsgi_app = "$module"
bind = "$HOST:$port"
workers = 1            # one process: glance imports stage+run in the same worker
threads = 8
worker_class = "gthread"
timeout = 300
keepalive = 0          # Connection: close on every response (no idle keep-alive races)
raw_env = ["$envvar"]
pythonpath = "$pypath"
pidfile = "$pidfile"
daemon = True
proc_name = "gk-$name"
errorlog = "$LOGS/$name-wsgi.log"
capture_output = True
PY
    (cd "$DIR/$name/wsgi" && "$VENV/bin/gunicorn")
  else
    cat > "$DIR/$name/wsgi/uwsgi.ini" <<INI
[uwsgi]
module = $module
http-socket = $HOST:$port
master = true
processes = 1
threads = 8
enable-threads = true
lazy-apps = true
need-app = true
die-on-term = true
exit-on-reload = false
buffer-size = 65535
add-header = Connection: close
; glance needs chunked request bodies; default chunk limit (1 MiB) breaks clients sending bigger chunks
http-auto-chunked = true
http-chunked-input = true
http-raw-body = true
chunked-input-limit = 67108864
env = $envvar
pidfile = $pidfile
pythonpath = $pypath
INI
    "$VENV/bin/uwsgi" --ini "$DIR/$name/wsgi/uwsgi.ini" --daemonize2 "$LOGS/$name-wsgi.log"
  fi
  # the pidfile appears a moment after daemonizing
  for _ in $(seq 1 50); do [ -s "$pidfile" ] && break; sleep 0.1; done
  if ! wait_http "$health" 90 "$pidfile"; then
    log "$name did not become ready; errors from $LOGS/$name.log and last lines of $LOGS/$name-wsgi.log:"
    grep -E ' (ERROR|CRITICAL) ' "$LOGS/$name.log" 2>/dev/null | tail -n 5 >&2 || true
    grep -v -i -E 'eventlet|^$|framework|migrat|strongly recommend' "$LOGS/$name-wsgi.log" 2>/dev/null \
      | tail -n 15 >&2 || true
    stop_pid "$name"; return 1
  fi
  log "$name ready on $HOST:$port in $(since "$t0") (pid $(cat "$pidfile"))"
}

stop_pid() {
  local name=$1 pidfile=$RUN/$1.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM, sending SIGKILL to it and its workers"
      pkill -KILL -P "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
}

# ---------------------------------------------------------------- keystone
configure_keystone() {
  mkdir -p "$KS/etc" "$KS/fernet-keys" "$KS/credential-keys" "$LOGS" "$RUN"
  chmod 700 "$KS/fernet-keys" "$KS/credential-keys"
  cat > "$KS/etc/keystone.conf" <<CONF
[DEFAULT]
debug = $DEBUG
log_file = $LOGS/keystone.log
[database]
# ?timeout=30: SQLite busy timeout (s); see gk_sqlite_immediate.py
connection = sqlite:///$KS/keystone.sqlite?timeout=30
sqlite_synchronous = false
[token]
provider = fernet
expiration = $TOKEN_EXPIRATION
[fernet_tokens]
key_repository = $KS/fernet-keys/
[fernet_receipts]
key_repository = $KS/fernet-keys/
[credential]
key_repository = $KS/credential-keys/
[identity]
# bcrypt cost 4 instead of 12: password/app-credential auth in ~10 ms instead of ~250 ms
password_hash_rounds = 4
[cache]
# in-process cache: authenticated requests drop from ~300 ms to ~15 ms (single worker, so coherent)
enabled = true
backend = dogpile.cache.memory
CONF
  local stamp="$KS/.bootstrapped" want="$KEYSTONE_PORT $GLANCE_PORT"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  local t0 km=("$VENV/bin/keystone-manage" --config-file "$KS/etc/keystone.conf")
  t0=$(now)
  log "keystone: db_sync, fernet_setup, credential_setup, bootstrap"
  "${km[@]}" db_sync 2>>"$LOGS/keystone-manage.log"
  [ -f "$KS/fernet-keys/0" ] || "${km[@]}" fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" 2>>"$LOGS/keystone-manage.log"
  [ -f "$KS/credential-keys/0" ] || "${km[@]}" credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" 2>>"$LOGS/keystone-manage.log"
  "${km[@]}" bootstrap --bootstrap-password "$ADMIN_PASSWORD" --bootstrap-username admin \
    --bootstrap-project-name admin --bootstrap-role-name admin --bootstrap-region-id "$REGION" \
    --bootstrap-admin-url "$KEYSTONE_URL/" --bootstrap-internal-url "$KEYSTONE_URL/" \
    --bootstrap-public-url "$KEYSTONE_URL/" 2>>"$LOGS/keystone-manage.log"
  rm -f "$KS/provisioned"
  echo "$want" > "$stamp"
  log "keystone bootstrap done in $(since "$t0")"
}

provision_keystone() {
  local t0; t0=$(now)
  [ -f "$KS/provisioned" ] && [ -f "$DIR/provision.json" ] && return 0
  write_provision_py "$KS/provision.py"
  KS_URL=$KEYSTONE_URL GLANCE_URL=$GLANCE_URL ADMIN_PASSWORD=$ADMIN_PASSWORD DEMO_PASSWORD=$DEMO_PASSWORD \
  GLANCE_SERVICE_PASSWORD=$GLANCE_SERVICE_PASSWORD APP_CRED_SECRET=$APP_CRED_SECRET REGION=$REGION \
  PROVISION_OUT=$DIR/provision.json "$VENV/bin/python" "$KS/provision.py" >/dev/null
  touch "$KS/provisioned"
  log "keystone provisioned (projects, users, roles, image service + endpoints, app credential) in $(since "$t0")"
}

write_provision_py() {
cat > "$1" <<'PY'
"""Idempotently create the Keystone entities the Glance tests use."""
import json, os, sys, time
import requests

KS, GLANCE_URL, REGION = os.environ["KS_URL"], os.environ["GLANCE_URL"], os.environ["REGION"]

def password_token(user, pw, project):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": pw}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    r = requests.post(KS + "/auth/tokens", json=body, timeout=30)
    r.raise_for_status()
    return r.headers["X-Subject-Token"]

S = requests.Session()
S.headers["X-Auth-Token"] = password_token("admin", os.environ["ADMIN_PASSWORD"], "admin")

def req(method, path, session=S, **kw):
    r = session.request(method, KS + path, timeout=30, **kw)
    if r.status_code >= 400:
        sys.exit(f"{method} {path} -> {r.status_code} {r.text}")
    return r.json() if r.content else None

def ensure(coll, single, body, **filters):
    found = req("GET", "/" + coll, params=filters)[coll]
    return found[0] if found else req("POST", "/" + coll, json={single: body})[single]

def project(name):
    return ensure("projects", "project", {"name": name, "domain_id": "default"},
                  name=name, domain_id="default")

def can_auth(name, pw):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": "default"}, "password": pw}}}}}   # unscoped
    return requests.post(KS + "/auth/tokens", json=body, timeout=30).status_code == 201

def user(name, pw, proj):
    u = ensure("users", "user", {"name": name, "password": pw, "domain_id": "default",
                                 "default_project_id": proj["id"]}, name=name, domain_id="default")
    if not can_auth(name, pw):
        # Only when the password really changed: a password update writes a revocation
        # event with 1-second granularity, which also kills tokens issued in that same
        # second (an unconditional PATCH made the next demo token fail with 401).
        req("PATCH", f"/users/{u['id']}", json={"user": {"password": pw}})
        time.sleep(1.1)
    return u

roles = {r["name"]: r["id"] for r in req("GET", "/roles")["roles"]}
admin_p, service_p, demo_p, alt_p = (project(n) for n in ("admin", "service", "demo", "alt_demo"))
glance_u = user("glance", os.environ["GLANCE_SERVICE_PASSWORD"], service_p)
demo_u = user("demo", os.environ["DEMO_PASSWORD"], demo_p)
alt_u = user("alt_demo", os.environ["DEMO_PASSWORD"], alt_p)
for p, u, r in [(service_p, glance_u, "service"), (service_p, glance_u, "admin"),
                (demo_p, demo_u, "member"), (alt_p, alt_u, "member")]:
    req("PUT", f"/projects/{p['id']}/users/{u['id']}/roles/{roles[r]}")

svc = ensure("services", "service", {"type": "image", "name": "glance", "enabled": True}, type="image")
for iface in ("public", "internal", "admin"):
    eps = req("GET", "/endpoints", params={"service_id": svc["id"], "interface": iface})["endpoints"]
    if not eps:
        req("POST", "/endpoints", json={"endpoint": {"service_id": svc["id"], "interface": iface,
                                                     "url": GLANCE_URL, "region_id": REGION}})
    elif eps[0]["url"] != GLANCE_URL:
        req("PATCH", f"/endpoints/{eps[0]['id']}", json={"endpoint": {"url": GLANCE_URL}})

# application credential of the demo user; created with a fixed secret so it can be reused
D = requests.Session()
D.headers["X-Auth-Token"] = password_token("demo", os.environ["DEMO_PASSWORD"], "demo")
path = f"/users/{demo_u['id']}/application_credentials"
acs = req("GET", path, session=D, params={"name": "demo-appcred"})["application_credentials"]
ac = acs[0] if acs else req("POST", path, session=D, json={"application_credential": {
    "name": "demo-appcred", "secret": os.environ["APP_CRED_SECRET"]}})["application_credential"]

state = {"keystone_url": KS, "glance_url": GLANCE_URL, "region": REGION,
         "admin_project_id": admin_p["id"], "demo_project_id": demo_p["id"],
         "alt_demo_project_id": alt_p["id"], "demo_user_id": demo_u["id"],
         "app_cred_id": ac["id"], "app_cred_secret": os.environ["APP_CRED_SECRET"]}
with open(os.environ["PROVISION_OUT"], "w") as f:
    json.dump(state, f, indent=1)
print(json.dumps(state))
PY
}

# ---------------------------------------------------------------- glance
configure_glance() {
  mkdir -p "$GL/etc" "$GL/images" "$GL/staging" "$GL/tasks" "$GL/locks" "$LOGS" "$RUN"
  local flavor=$AUTH
  cat > "$GL/etc/glance-api.conf" <<CONF
[DEFAULT]
debug = $DEBUG
log_file = $LOGS/glance.log
hashing_algorithm = $HASHING_ALGORITHM
enabled_import_methods = [glance-direct,web-download,copy-image]
# multi-store syntax (the single-store [glance_store]/stores,default_store options are deprecated)
enabled_backends = local:file, web:http
[database]
connection = sqlite:///$GL/glance.sqlite?timeout=30
sqlite_synchronous = false
[paste_deploy]
flavor = $flavor
config_file = $GL/etc/glance-api-paste.ini
[glance_store]
default_backend = local
[local]
filesystem_store_datadir = $GL/images/
[os_glance_staging_store]
filesystem_store_datadir = $GL/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $GL/tasks/
[import_filtering_opts]
# web-download blocks loopback and every port but 80/443 by default. Lists need [brackets].
# Use http://127.0.0.1:PORT/... ("localhost" is rejected: glance resolves "localhost." which fails).
allowed_hosts = [127.0.0.1]
allowed_ports = []
[oslo_concurrency]
lock_path = $GL/locks
[oslo_policy]
# never pick up a stray policy.yaml from the config dir
policy_file = $GL/etc/policy-none.yaml
CONF
  if [ "$AUTH" = keystone ]; then
    cat >> "$GL/etc/glance-api.conf" <<CONF
[keystone_authtoken]
www_authenticate_uri = http://$HOST:$KEYSTONE_PORT
auth_url = http://$HOST:$KEYSTONE_PORT
auth_type = password
user_domain_id = default
project_domain_id = default
project_name = service
username = glance
password = $GLANCE_SERVICE_PASSWORD
region_name = $REGION
# validate every token with keystone (default caches 300 s: revoked tokens kept working)
token_cache_time = -1
CONF
  fi
  cat > "$GL/etc/glance-api-paste.ini" <<INI
# Trimmed copy of glance's glance-api-paste.ini with an extra test-only "noauth" flavor.
[composite:glance-api-keystone]
paste.composite_factory = glance.api:root_app_factory
/: api
/healthcheck: healthcheck
[composite:glance-api-noauth]
paste.composite_factory = glance.api:root_app_factory
/: api
/healthcheck: healthcheck
[composite:api]
paste.composite_factory = glance.api:pipeline_factory
keystone = cors http_proxy_to_wsgi versionnegotiation osprofiler authtoken context rootapp
noauth = cors http_proxy_to_wsgi versionnegotiation osprofiler noauth_identity context rootapp
[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app
[app:apiversions]
paste.app_factory = glance.api.versions:create_resource
[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory
[app:healthcheck]
paste.app_factory = oslo_middleware:Healthcheck.app_factory
backends = disable_by_file
disable_by_file_path = $GL/healthcheck_disable
[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory
[filter:context]
paste.filter_factory = glance.api.middleware.context:ContextMiddleware.factory
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
delay_auth_decision = true
[filter:noauth_identity]
paste.filter_factory = gk_noauth_identity:filter_factory
project_id = noauth-project
user_id = noauth-user
roles = admin,member,reader
[filter:osprofiler]
paste.filter_factory = osprofiler.web:WsgiMiddleware.factory
[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = glance
oslo_config_program = glance-api
[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory
INI
  mkdir -p "$GL/wsgi"
  cat > "$GL/wsgi/gk_noauth_identity.py" <<'PY'
"""TEST-ONLY paste filter: mark every request as authenticated (like keystonemiddleware
would), so glance's ContextMiddleware builds a context with a project. Plain
flavor="" (UnauthenticatedContextMiddleware) has project_id None, and then every
import (web-download, glance-direct) fails with 'NOT NULL constraint failed: tasks.owner'."""


def filter_factory(global_conf, **local_conf):
    defaults = {"HTTP_X_PROJECT_ID": local_conf.get("project_id", "noauth-project"),
                "HTTP_X_USER_ID": local_conf.get("user_id", "noauth-user"),
                "HTTP_X_ROLES": local_conf.get("roles", "admin,member,reader")}

    def _filter(app):
        def middleware(environ, start_response):
            environ["HTTP_X_IDENTITY_STATUS"] = "Confirmed"
            for key, value in defaults.items():
                environ.setdefault(key, value)   # client may pass X-Project-Id etc.
            return app(environ, start_response)
        return middleware
    return _filter
PY
  local stamp="$GL/.db-synced"
  if [ ! -f "$stamp" ]; then
    local t0; t0=$(now)
    "$VENV/bin/glance-manage" --config-file "$GL/etc/glance-api.conf" db_sync >>"$LOGS/glance-manage.log" 2>&1
    touch "$stamp"
    log "glance db_sync done in $(since "$t0")"
  fi
}

# ---------------------------------------------------------------- outputs
write_client_files() {
  if [ "$AUTH" = keystone ]; then
    "$VENV/bin/python" - "$DIR" "$ADMIN_PASSWORD" "$DEMO_PASSWORD" <<'PY'
import json, sys
d, admin_pw, demo_pw = sys.argv[1:4]
s = json.load(open(f"{d}/provision.json"))
ks, region = s["keystone_url"], s["region"]
def pw(user, project, pw_):
    return {"auth": {"auth_url": ks, "username": user, "password": pw_, "project_name": project,
                     "user_domain_name": "Default", "project_domain_name": "Default"},
            "region_name": region, "interface": "public", "identity_api_version": 3}
clouds = {"gk-admin": pw("admin", "admin", admin_pw),
          "gk-demo": pw("demo", "demo", demo_pw),
          "gk-alt-demo": pw("alt_demo", "alt_demo", demo_pw),
          # scoping by ids instead of names (project_id, user_domain_id)
          "gk-demo-ids": {"auth_type": "v3password",
                          "auth": {"auth_url": ks, "username": "demo", "password": demo_pw,
                                   "project_id": s["demo_project_id"], "user_domain_id": "default"},
                          "region_name": region, "identity_api_version": 3},
          "gk-appcred": {"auth_type": "v3applicationcredential",
                         "auth": {"auth_url": ks, "application_credential_id": s["app_cred_id"],
                                  "application_credential_secret": s["app_cred_secret"]},
                         "region_name": region, "interface": "public", "identity_api_version": 3}}
def yaml(obj, indent=0):   # block-style YAML; strings double-quoted (JSON escapes are valid YAML)
    out = []
    for k, v in obj.items():
        if isinstance(v, dict):
            out.append(" " * indent + f"{k}:")
            out.extend(yaml(v, indent + 2))
        else:
            out.append(" " * indent + f"{k}: {json.dumps(v)}")
    return out
with open(f"{d}/clouds.yaml", "w") as f:
    f.write("\n".join(yaml({"clouds": clouds})) + "\n")
with open(f"{d}/env.sh", "w") as f:
    f.write(f"""# source me: password auth as the demo user (member of project demo)
export OS_CLIENT_CONFIG_FILE={d}/clouds.yaml
export OS_AUTH_URL={ks}
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=demo OS_PASSWORD={demo_pw} OS_PROJECT_NAME=demo
export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME={region} OS_INTERFACE=public
export GK_GLANCE_URL={s['glance_url']} GK_KEYSTONE_URL={ks}
export GK_APP_CRED_ID={s['app_cred_id']} GK_APP_CRED_SECRET={s['app_cred_secret']}
export GK_DEMO_PROJECT_ID={s['demo_project_id']} GK_ALT_DEMO_PROJECT_ID={s['alt_demo_project_id']}
""")
PY
  else
    cat > "$DIR/clouds.yaml" <<YAML
clouds:
  gk-noauth:
    auth_type: none
    auth:
      endpoint: $GLANCE_URL
    image_endpoint_override: $GLANCE_URL
YAML
    printf 'export OS_CLIENT_CONFIG_FILE=%s/clouds.yaml\nexport GK_GLANCE_URL=%s\n' "$DIR" "$GLANCE_URL" > "$DIR/env.sh"
  fi
}

print_endpoints() {
  echo "Glance image API v2: $GLANCE_URL   (auth: $AUTH, server: $WSGI)"
  if [ "$AUTH" = keystone ]; then
    echo "Keystone v3:         $KEYSTONE_URL"
    echo "  admin / $ADMIN_PASSWORD (project admin)   demo / $DEMO_PASSWORD (member of demo)   alt_demo / $DEMO_PASSWORD"
    echo "  app credential: $("$VENV/bin/python" -c 'import json,sys;s=json.load(open(sys.argv[1]));print(s["app_cred_id"], "/", s["app_cred_secret"])' "$DIR/provision.json")"
  fi
  echo "clouds.yaml:         $DIR/clouds.yaml  (clouds: $(grep -o '^  gk-[a-z-]*' "$DIR/clouds.yaml" | tr -d ' ' | tr '\n' ' '))"
  echo "env file:            source $DIR/env.sh"
  echo "logs:                $LOGS/"
}

rss_of() {  # RSS in MiB of a master pid and its children
  local pid; pid=$(cat "$1" 2>/dev/null) || { echo "-"; return; }
  ps -o rss= --pid "$pid" --ppid "$pid" 2>/dev/null | awk '{s+=$1} END {printf "%d MiB", s/1024}'
}

status() {
  local name rc=0
  for name in keystone glance; do
    if pid_alive "$RUN/$name.pid"; then
      echo "$name: running, master pid $(cat "$RUN/$name.pid"), RSS $(rss_of "$RUN/$name.pid")"
    else
      echo "$name: not running"; { [ "$name" = keystone ] && [ "$AUTH" = noauth ]; } || rc=1
    fi
  done
  return $rc
}

save_settings() {
  local v
  : > "$DIR/gk-settings.sh"
  for v in GK_AUTH=$AUTH GK_WSGI=$WSGI GK_VENV=$VENV GK_GLANCE_PORT=$GLANCE_PORT \
           GK_KEYSTONE_PORT=$KEYSTONE_PORT GK_ADMIN_PASSWORD=$ADMIN_PASSWORD \
           GK_DEMO_PASSWORD=$DEMO_PASSWORD GK_GLANCE_SERVICE_PASSWORD=$GLANCE_SERVICE_PASSWORD \
           GK_APP_CRED_SECRET=$APP_CRED_SECRET GK_DEBUG=$DEBUG GK_TOKEN_EXPIRATION=$TOKEN_EXPIRATION \
           GK_HASHING_ALGORITHM=$HASHING_ALGORITHM; do
    printf ': "${%s:=%q}"\n' "${v%%=*}" "${v#*=}" >> "$DIR/gk-settings.sh"
  done
}

preflight_ports() {  # fail fast, before the slow steps, if a port is taken by someone else
  local name port
  for name in keystone glance; do
    [ "$name" = keystone ] && [ "$AUTH" = noauth ] && continue
    port=$GLANCE_PORT; [ "$name" = keystone ] && port=$KEYSTONE_PORT
    if ! pid_alive "$RUN/$name.pid" && port_busy "$port"; then
      log "port $port (for $name) is already in use by another process; set GK_${name^^}_PORT"; return 1
    fi
  done
}

start() {
  local t0; t0=$(now)
  install
  preflight_ports
  mkdir -p "$LOGS" "$RUN"
  save_settings
  if [ "$AUTH" = keystone ]; then
    configure_keystone
    write_wsgi_entry keystone keystone.wsgi.api
    start_wsgi keystone "$KEYSTONE_PORT" "$KEYSTONE_URL" "OS_KEYSTONE_CONFIG_DIR=$KS/etc"
    provision_keystone
  fi
  configure_glance
  write_wsgi_entry glance glance.wsgi.api
  start_wsgi glance "$GLANCE_PORT" "$GLANCE_URL/healthcheck" "OS_GLANCE_CONFIG_DIR=$GL/etc"
  write_client_files
  log "all up in $(since "$t0")"
  print_endpoints
}

stop() { stop_pid glance; stop_pid keystone; }

clean() {
  stop
  rm -rf "$KS" "$GL" "$LOGS" "$RUN" "$DIR/www" "$DIR/clouds.yaml" "$DIR/env.sh" "$DIR/gk-settings.sh" \
         "$DIR/provision.json" "$DIR/constraints.txt"
  log "removed state under $DIR (venv kept: $VENV)"
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  install) install ;;
  clean) clean ;;
  *) sed -n '2,/^set -e/p' "$0" | grep '^#'; exit 2 ;;
esac
