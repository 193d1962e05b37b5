"""libsodium (through PyNaCl) and nothing else: the key hierarchy of DESIGN.md lives here."""

from haven.crypto.keys import DecryptionError, KeyPair

__all__ = ["DecryptionError", "KeyPair"]
