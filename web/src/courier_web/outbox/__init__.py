"""The transactional outbox: events written with the change, published after commit."""
