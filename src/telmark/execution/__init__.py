"""Marketing execution: sending messages to subscribers through channels."""
