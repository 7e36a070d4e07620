"""The data model (SQLModel tables), database access and validation. Imports only ``config``."""
