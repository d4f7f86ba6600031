"""Customer 360: one subscriber's identity, products, usage, value, risk and history."""
