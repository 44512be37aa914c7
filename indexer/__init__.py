"""Turn sources (textbook PDFs, case folders) into typed records, and records into index entries."""
