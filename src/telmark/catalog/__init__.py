"""Product catalog: products, their append-only price versions and kind terms."""
