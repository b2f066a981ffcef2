"""Marketing intelligence for agencies (issue 21): SEO audits, social scheduling, offline AI."""
