"""Watching registered accounts: a persistent schedule, connectors per platform, a collector."""
