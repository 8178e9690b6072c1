"""Storage: the database connection and its settings (`db`, `postgres`), rows read as
plain values (`rows`) and cursor pages (`pagination`). It knows no domain."""
