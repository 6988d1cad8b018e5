"""Loading the bureaus' deliveries (feeds.md) into raw.* with audit.load_log and audit.quarantine."""
