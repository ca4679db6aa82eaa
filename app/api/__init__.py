"""The REST API (/api/v1): tokens, read and write endpoints, the OpenAPI document, webhooks."""
