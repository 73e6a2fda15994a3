"""The contract with the phone: the committed OpenAPI document and a reference client."""
