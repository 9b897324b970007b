"""Safe message handlers: async update handlers that must not interleave."""
