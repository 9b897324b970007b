"""Context propagation: a context variable follows the work from client to workflow to activity."""
