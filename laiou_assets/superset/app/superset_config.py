"""Superset's configuration for laiou. Superset loads this file (SUPERSET_CONFIG_PATH) inside .venv-bi; it
imports nothing of laiou. `laiou bi` (laiou_assets/superset/launch.py) sets the variables read here."""

import os
from pathlib import Path

# Generated once by `laiou bi` into $LAIOU_HOME/superset/secret_key (mode 0600): it encrypts the stored
# database password, so it must not change between starts.
SECRET_KEY = Path(os.environ["SUPERSET_LAIOU_SECRET_FILE"]).read_text(encoding="utf-8").strip()

# Superset's own metadata (users, roles, dashboards, its log) in database laiou_superset on the warehouse
# server, never in the warehouse's database.
SQLALCHEMY_DATABASE_URI = os.environ["SUPERSET_LAIOU_METADATA_URI"]

# 中文 by default, English from the language menu.
BABEL_DEFAULT_LOCALE = "zh"
LANGUAGES = {
    "zh": {"flag": "cn", "name": "简体中文"},
    "en": {"flag": "us", "name": "English"},
}

FEATURE_FLAGS = {
    "DASHBOARD_RBAC": True,  # 数据质量 is given to the data team's role only
    "ENABLE_TEMPLATE_PROCESSING": False,
}

# Nothing leaves the office's network from a reader's browser: Superset's pages would fetch a tracking pixel
# (scarf.sh), map tiles and web fonts from outside. This content security policy allows this server only
# (Superset's default, TALISMAN_CONFIG, less every outside address).
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}

# Dashboard views are counted from Superset's own log (table `logs`), the default DBEventLogger.
LOG_LEVEL = os.environ.get("SUPERSET_LAIOU_LOG_LEVEL", "WARNING")

# Served on 127.0.0.1 by `laiou bi serve`; a reverse proxy with TLS goes in front for other machines.
SESSION_COOKIE_SAMESITE = "Lax"
SUPERSET_WEBSERVER_TIMEOUT = 120
ROW_LIMIT = 50_000
