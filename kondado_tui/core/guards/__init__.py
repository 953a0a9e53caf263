"""The guards every byte from outside passes through: cleaning and redaction."""
