"""Email to people: a key set about to expire, and one that has expired."""
