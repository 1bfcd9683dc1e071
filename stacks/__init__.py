"""Pulumi programs for jobs and the Automation API runner that drives them."""
