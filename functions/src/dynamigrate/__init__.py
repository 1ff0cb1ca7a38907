"""dynamigrate: move live DynamoDB tables across accounts and key schemas with zero downtime."""

__version__ = "0.1.0"
