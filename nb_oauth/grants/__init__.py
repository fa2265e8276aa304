"""One module per grant; each turns a resolved config into a :class:`~nb_oauth._token.TokenSet`."""
