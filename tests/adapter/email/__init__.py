"""Email adapter tests: SMTP transport, reply tokens, IMAP listener."""
