"""privacy-milter: the daemon."""
