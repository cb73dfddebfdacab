"""Site statistics for staff, served from Django's cache and kept true by signals."""
