"""Per-client rate limits on the public witness endpoints, counted in the shared database."""
