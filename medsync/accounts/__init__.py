"""Accounts: sign-in with a second factor, browser sessions, API tokens, passwords."""
