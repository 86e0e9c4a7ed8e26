"""Apache Airflow provider for the Canvas LMS REST API.

``get_provider_info`` is the entry point Airflow calls to register the hook, the connection form and the
operators. It stays a plain literal with no imports: Airflow calls it in every process, and an invalid
dict breaks every Airflow command in the environment (a unit test validates it with Airflow's schema).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "get_provider_info"]

INTEGRATION = "Canvas LMS"


def get_provider_info() -> dict:
    return {
        "package-name": "airflow-provider-canvas",
        "name": "Canvas LMS",
        "description": "Canvas LMS REST API: user communication channels (list, create, delete, wait).",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://canvas.instructure.com/doc/api/communication_channels.html",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_canvas.operators.communication_channels",
                    "airflow_provider_canvas.operators.contact_sync",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_canvas.sensors.communication_channels"],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_canvas.hooks.canvas",
                    "airflow_provider_canvas.hooks.canvas_async",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_canvas.triggers.communication_channels"],
            }
        ],
        "extra-links": ["airflow_provider_canvas.links.canvas.CanvasUserLink"],
        "connection-types": [
            {
                "connection-type": "canvas",
                "hook-class-name": "airflow_provider_canvas.hooks.canvas.CanvasHook",
                "hook-name": "Canvas LMS",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"host": "Canvas URL", "password": "Access Token"},
                    "placeholders": {
                        "host": "https://canvas.example.edu",
                        "password": "Canvas access token (Account > Settings > New Access Token)",
                    },
                },
                "conn-fields": {
                    "per_page": {
                        "label": "Page size",
                        "description": "Items per page when listing (Canvas caps this at 100).",
                        "schema": {"type": ["integer", "null"], "default": 100, "minimum": 1, "maximum": 100},
                    },
                    "timeout": {
                        "label": "Timeout (seconds)",
                        "description": "Deadline of each attempt: connect, headers and the whole body.",
                        # The UI clamps to minimum/maximum but ignores exclusiveMinimum: 0.1 keeps 0 out.
                        "schema": {
                            "type": ["number", "null"],
                            "default": 30,
                            "minimum": 0.1,
                            "maximum": 3600,
                        },
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "description": "Retries after the first attempt (throttling, 5xx, network errors).",
                        "schema": {"type": ["integer", "null"], "default": 5, "minimum": 0, "maximum": 20},
                    },
                    # A drop-down (the UI enforces an enum, not a pattern); a CA bundle gets its own field.
                    "verify": {
                        "label": "Verify TLS",
                        "description": "Check Canvas's TLS certificate. false is insecure (logs a warning).",
                        "schema": {"type": ["string", "null"], "enum": ["true", "false"], "default": "true"},
                    },
                    "ca_bundle": {
                        "label": "CA bundle path",
                        "description": "For a Canvas behind a private CA: absolute path of a PEM bundle to "
                        "trust, present on every worker, the triggerer and the API server.",
                        "schema": {"type": ["string", "null"], "pattern": "^/"},
                    },
                    "allow_insecure_http": {
                        "label": "Allow plain http://",
                        "description": "Allow a non-loopback http:// URL (sends the token unencrypted).",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                    "max_concurrency": {
                        "label": "Max concurrency",
                        "description": "Upper bound on parallel requests in bulk calls; adapts below it.",
                        "schema": {"type": ["integer", "null"], "default": 16, "minimum": 1, "maximum": 64},
                    },
                    "max_response_bytes": {
                        "label": "Max response size (bytes)",
                        "description": "Largest answer accepted, counted once decompressed (default 16 MiB).",
                        "schema": {
                            "type": ["integer", "null"],
                            "default": 16777216,
                            "minimum": 1024,
                            "maximum": 1073741824,
                        },
                    },
                    "max_pages": {
                        "label": "Max pages per listing",
                        "description": "A listing that needs more pages than this fails instead of going on.",
                        "schema": {
                            "type": ["integer", "null"],
                            "default": 1000,
                            "minimum": 1,
                            "maximum": 1000000,
                        },
                    },
                    "max_retry_wait": {
                        "label": "Max retry wait (seconds)",
                        "description": "Total time one call may wait between retries (Retry-After included).",
                        "schema": {"type": ["number", "null"], "default": 300, "minimum": 0, "maximum": 3600},
                    },
                },
            }
        ],
    }
