"""django-oauth-toolkit as a second, independently written authorization server.

``python -m tests.servers.dot.serve --port N --db FILE`` migrates a fresh SQLite database, creates
the users and clients below, and serves DOT under ``/o/`` (the issuer is ``http://127.0.0.1:N/o``)
with the RFC 8414 document also at the origin's path-inserted address, plus one protected resource
(``/api/me``, DOT's default ``ProtectedResourceView``: a bare 403 for a bad token).
"""

USER, PASSWORD = "alice", "wonderland"

#: client_id → (client type, grant type, secret or None)
CLIENTS = {
    "code-public": ("public", "authorization-code", None),
    "code-confidential": ("confidential", "authorization-code", "code-secret"),
    "machine": ("confidential", "client-credentials", "machine-secret"),
    "password-app": ("confidential", "password", "password-secret"),
    "device-confidential": ("confidential", "urn:ietf:params:oauth:grant-type:device_code", "device-secret"),
    "device-public": ("public", "urn:ietf:params:oauth:grant-type:device_code", None),
}
