"""The analytical warehouse: subscriber-scale data reached through Ibis."""
