"""The public functions, operators and array-API namespace, on the op table."""
