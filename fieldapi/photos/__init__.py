"""Photo evidence: checking uploaded images, reading their facts, making display copies."""
