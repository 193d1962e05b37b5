"""The operator's pages: login, queue, case, account and administration. Plain forms, no script."""
