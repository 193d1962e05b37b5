"""The Telegram bot: updates in (webhook or polling), the same intake and cases as the web, replies out."""
