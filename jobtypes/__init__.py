"""How a job's code becomes an image: job types, their templates and runtime wrappers."""
