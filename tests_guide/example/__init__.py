"""The guide's event, declared in the three places a user writes (test-only names)."""
