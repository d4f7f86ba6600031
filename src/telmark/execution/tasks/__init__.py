"""Front-line tasks: contacts assigned to outlets, grids and account managers (see domain)."""
