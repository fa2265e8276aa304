"""The words of the teaching views: who takes part in a flow, and what each protocol parameter is for."""

#: The actors of a flow, in diagram order.
ACTORS = ("user", "browser", "notebook", "server", "api")

#: One line on what each protocol parameter is for (shown beside it).
PARAMETER_MEANINGS: dict[str, str] = {
    "response_type": "what the client wants back: 'code' (then exchanged) or 'token' (implicit)",
    "client_id": "which registered application is asking",
    "redirect_uri": "where the server sends the browser back (the kernel-local listener)",
    "scope": "the permissions asked for",
    "state": "random value echoed back; a different one on return means a forged redirect (CSRF)",
    "code_challenge": "PKCE: hash of a secret verifier; only the holder of the verifier can redeem the code",
    "code_challenge_method": "PKCE: how the challenge was made from the verifier (S256 = SHA-256)",
    "code_verifier": "PKCE: the secret the challenge was made from, proven at the token endpoint",
    "nonce": "random value the ID token must repeat, so an old ID token cannot be replayed",
    "grant_type": "which grant the token request uses",
    "code": "the one-time authorization code, exchanged for tokens",
    "refresh_token": "long-lived credential used to get a new access token",
    "access_token": "the credential sent to the API",
    "id_token": "signed statement (JWT) about who logged in",
    "expires_in": "seconds until the access token expires",
    "token_type": "how to send the token (Bearer: in the Authorization header)",
    "device_code": "device flow: the secret handle the client polls with",
    "user_code": "device flow: the short code the user types at the verification page",
    "verification_uri": "device flow: where the user goes to enter the code",
    "interval": "device flow: seconds to wait between polls",
    "error": "the server's error code",
    "error_description": "the server's explanation",
    "iss": "RFC 9207: which server issued this response (stops mix-up attacks)",
    "audience": "which API the token is for",
    "resource": "RFC 8707: which API the token is for",
    "username": "the resource owner's login (password grant)",
    "password": "the resource owner's password (password grant; secret)",
    "client_secret": "the client's secret (confidential clients)",
    "token": "the token being revoked",
    "token_type_hint": "which kind of token is being revoked",
}
