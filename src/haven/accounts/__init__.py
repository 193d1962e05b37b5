"""Operators, teams, roles and 2FA."""
