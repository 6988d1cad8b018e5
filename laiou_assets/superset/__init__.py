"""Apache Superset, the BI tool of the office, the districts, the commissions and the leaders (issue #16).

Superset runs in its own virtualenv (.venv-bi, `make bi`): `launch.py` is laiou's side (where things live,
the environment, `laiou bi serve` and `laiou bi user`); `app/` runs inside Superset (its configuration and
the provisioning of the marts, dashboards, roles and row-level rules); `dashboards/` is the exported
dashboards bundle, imported on every start.
"""
