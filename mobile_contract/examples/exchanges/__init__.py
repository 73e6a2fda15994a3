"""The exchanges of the phone contract, one module per group of examples: each module
plays its group against the app and records it into the folder of the same name."""
