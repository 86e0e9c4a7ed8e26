"""Airflow plugins this provider registers through ``get_provider_info()["plugins"]``."""
