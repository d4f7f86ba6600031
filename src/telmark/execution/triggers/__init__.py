"""Real-time triggers: event-driven cases decided in memory, contacts through the outbox."""
