"""Helpers of the end-to-end suite: containers, clients and bounded polling."""
