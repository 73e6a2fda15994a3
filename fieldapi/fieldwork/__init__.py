"""Field work: inspections against a checklist, the hazards they find, and rectifications."""
