"""Stand-in fixtures (filled in by the provider work)."""
