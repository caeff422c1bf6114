"""privacy-milter: one module per check."""
