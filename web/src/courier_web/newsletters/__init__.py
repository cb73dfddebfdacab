"""Newsletters: written by staff, sent by the worker in chunks at the deployment's pace."""
