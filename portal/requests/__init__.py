"""Evidence requests: investigators ask the public (or one person) for video of an event."""
