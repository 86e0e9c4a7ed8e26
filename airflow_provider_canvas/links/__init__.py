"""Operator extra links for the Canvas LMS provider."""
