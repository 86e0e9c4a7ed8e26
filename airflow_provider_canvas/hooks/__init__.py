"""Hooks for the Canvas LMS provider."""
