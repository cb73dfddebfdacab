"""Courier's web service: a Django API that turns model changes into events."""
