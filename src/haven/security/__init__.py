"""Small, default-on protections: sessions, CSRF, security headers, body limits."""
