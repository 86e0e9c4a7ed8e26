"""Sensors for the Canvas LMS provider."""
