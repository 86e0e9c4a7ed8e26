"""Operators for the Canvas LMS provider."""
