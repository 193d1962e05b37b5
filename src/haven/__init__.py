"""Haven: a secure, anonymous helpline and case desk."""
