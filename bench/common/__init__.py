"""What the PostgreSQL benchmarks share: a throwaway database next to DATABASE_URL's, and Django set up."""
