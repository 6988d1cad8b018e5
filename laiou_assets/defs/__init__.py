"""Definitions by domain: feeds/ (raw feed assets), dbt/ (the dbt project), resources."""
