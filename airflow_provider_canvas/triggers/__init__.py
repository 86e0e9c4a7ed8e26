"""Triggers for the Canvas LMS provider."""
