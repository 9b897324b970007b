"""Optional integrations (each may need an extra package, e.g. pydantic)."""
